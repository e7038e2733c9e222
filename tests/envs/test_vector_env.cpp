#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "env_test_util.h"
#include "envs/vector_env.h"

using namespace vkwb::envs;

namespace {
// Catch planes are [ball, paddle] of 10x10: the ball's row in copy i's observation.
int ball_row(const uint8_t* obs) {
  for (int i = 0; i < 100; ++i)
    if (obs[i]) return i / 10;
  return -1;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(vector_env)

BOOST_AUTO_TEST_CASE(auto_reset_keeps_the_final_observation) {
  VectorEnv venv("catch", 4);
  BOOST_TEST(venv.num_envs() == 4);
  BOOST_TEST((venv.observation_shape() == ObsShape{2, 10, 10}));
  BOOST_CHECK_THROW(venv.step(nullptr, nullptr), vkwb::Error);
  venv.reset(7);
  const size_t size = venv.observation_size();
  std::vector<int> actions(4, 1);
  std::vector<StepResult> out(4);
  for (int t = 1; t <= 8; ++t) {
    venv.step(actions.data(), out.data());
    for (int i = 0; i < 4; ++i) {
      BOOST_REQUIRE(!out[size_t(i)].done());
      BOOST_TEST(ball_row(venv.observations() + size_t(i) * size) == t);
      BOOST_TEST(!venv.just_finished(i));
      BOOST_TEST(std::memcmp(venv.final_observation(i), venv.observations() + size_t(i) * size, size) == 0);
    }
  }
  venv.step(actions.data(), out.data());
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST(out[size_t(i)].terminated);
    BOOST_TEST(venv.just_finished(i));
    BOOST_TEST(ball_row(venv.final_observation(i)) == 9);                     // the terminal state
    BOOST_TEST(ball_row(venv.observations() + size_t(i) * size) == 0);        // the next episode
    BOOST_TEST(venv.last_episode(i).length == 9);
    BOOST_TEST(venv.last_episode(i).episode_return == double(out[size_t(i)].reward));
  }
  BOOST_TEST(venv.episodes_finished() == 4);
  venv.step(actions.data(), out.data());
  BOOST_TEST(!venv.just_finished(0));
}

BOOST_AUTO_TEST_CASE(copies_get_different_seeds_and_runs_repeat) {
  auto run = [](uint64_t seed) {
    VectorEnv venv("minatar-breakout", 6);
    venv.reset(seed);
    std::vector<int> actions(6);
    std::vector<StepResult> out(6);
    std::vector<uint8_t> trace;
    for (int t = 0; t < 300; ++t) {
      for (int i = 0; i < 6; ++i) actions[size_t(i)] = (t * 7 + i * 3) % 3;
      venv.step(actions.data(), out.data());
      trace.insert(trace.end(), venv.observations(), venv.observations() + 6 * venv.observation_size());
      for (const auto& r : out) trace.push_back(uint8_t(r.reward));
    }
    return trace;
  };
  BOOST_TEST((run(3) == run(3)));
  BOOST_TEST(!(run(3) == run(4)));

  VectorEnv venv("catch", 16);
  venv.reset(1);
  std::vector<int> columns;
  for (int i = 0; i < 16; ++i) {
    const uint8_t* o = venv.observations() + size_t(i) * venv.observation_size();
    for (int x = 0; x < 10; ++x)
      if (o[x]) columns.push_back(x);
  }
  BOOST_TEST((std::count(columns.begin(), columns.end(), columns[0]) < 16));
}

BOOST_AUTO_TEST_CASE(rejects_mixed_or_empty_copies) {
  BOOST_CHECK_THROW(VectorEnv("catch", 0), vkwb::Error);
  std::vector<std::unique_ptr<Env>> mixed;
  mixed.push_back(make_env("catch"));
  mixed.push_back(make_env("minatar-breakout"));
  BOOST_CHECK_THROW(VectorEnv(std::move(mixed)), vkwb::Error);
  VectorEnv venv("catch", 2);
  venv.reset(0);
  const int bad[2] = {1, 3};
  StepResult out[2];
  BOOST_CHECK_THROW(venv.step(bad, out), vkwb::Error);
  const int good[2] = {1, 1};
  venv.step(good, out);  // the rejected step moved neither copy
  BOOST_TEST(ball_row(venv.observations()) == 1);
  BOOST_TEST(ball_row(venv.observations() + venv.observation_size()) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
