// Scripted Asterix trajectories.
#include <boost/test/unit_test.hpp>

#include "env_test_util.h"
#include "envs/minatar/asterix.h"

using namespace vkwb::envs;

namespace {
constexpr int kNoopA = 0, kLeftA = 1, kUpA = 2, kRightA = 3, kDownA = 4;
enum { kPlayer, kEnemy, kTrail, kGold };

int active_count(const AsterixEnv& env) {
  int n = 0;
  for (const auto& e : env.state().rows) n += e.active;
  return n;
}

void place(AsterixEnv& env, int row, int x, bool gold, bool moving_right) {
  AsterixEntity& e = env.state_for_test().rows[row - 1];
  e.x = int8_t(x);
  e.gold = gold;
  e.moving_right = moving_right;
  e.active = true;
}

void clear_entities(AsterixEnv& env) {
  for (auto& e : env.state_for_test().rows) e.active = false;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(asterix)

BOOST_AUTO_TEST_CASE(entities_spawn_every_10_frames) {
  AsterixEnv env(test::no_sticky());
  env.reset(7);
  for (int t = 1; t <= 10; ++t) {
    env.step(kNoopA);
    BOOST_TEST(active_count(env) == 0);
  }
  env.step(kNoopA);
  BOOST_TEST(active_count(env) == 1);
  for (int t = 12; t <= 20; ++t) env.step(kNoopA);
  BOOST_TEST(active_count(env) == 1);
  env.step(kNoopA);
  BOOST_TEST(active_count(env) == 2);
}

BOOST_AUTO_TEST_CASE(about_one_third_of_spawns_are_gold) {
  AsterixEnv env(test::no_sticky());
  int gold = 0, total = 0;
  for (uint64_t seed = 0; seed < 600; ++seed) {
    env.reset(seed);
    for (int t = 0; t < 11; ++t) env.step(kNoopA);
    for (const auto& e : env.state().rows) {
      if (!e.active) continue;
      ++total;
      gold += e.gold;
      BOOST_REQUIRE((e.x == 1 || e.x == 8));  // entered at an edge, moved once on frame 11
      BOOST_REQUIRE(e.moving_right == (e.x == 1));
    }
  }
  BOOST_TEST(total == 600);
  BOOST_TEST(double(gold) / total > 0.28);
  BOOST_TEST(double(gold) / total < 0.39);
}

BOOST_AUTO_TEST_CASE(entities_move_every_5_frames) {
  AsterixEnv env(test::no_sticky());
  env.reset(1);
  AsterixState& s = env.state_for_test();
  s.spawn_timer = 1000;
  s.move_timer = 0;
  place(env, 2, 0, false, true);
  std::vector<int> xs;
  for (int t = 0; t < 11; ++t) {
    env.step(kNoopA);
    xs.push_back(env.state().rows[1].x);
  }
  const std::vector<int> expected = {1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3};
  BOOST_TEST(xs == expected, boost::test_tools::per_element());
  BOOST_TEST(test::cell(env, kEnemy, 2, 3));
  BOOST_TEST(test::cell(env, kTrail, 2, 2));
}

BOOST_AUTO_TEST_CASE(gold_gives_plus_one) {
  AsterixEnv env(test::no_sticky());
  env.reset(1);
  env.state_for_test().spawn_timer = 1000;
  place(env, 5, 6, true, false);
  BOOST_TEST(test::cell(env, kPlayer, 5, 5) == true);
  const StepResult r = env.step(kRightA);  // walk onto it
  BOOST_TEST(r.reward == 1.0f);
  BOOST_TEST(!r.terminated);
  BOOST_TEST(active_count(env) == 0);

  // Gold moving into the player counts too.
  AsterixState& s = env.state_for_test();
  s.move_timer = 0;
  place(env, 5, 7, true, false);
  BOOST_TEST(env.step(kNoopA).reward == 1.0f);
}

BOOST_AUTO_TEST_CASE(enemy_contact_ends_the_episode) {
  AsterixEnv env(test::no_sticky());
  env.reset(1);
  env.state_for_test().spawn_timer = 1000;
  place(env, 4, 5, false, true);
  const StepResult r = env.step(kUpA);
  BOOST_TEST(r.terminated);
  BOOST_TEST(r.reward == 0.0f);
}

BOOST_AUTO_TEST_CASE(player_stays_in_rows_1_to_8) {
  AsterixEnv env(test::no_sticky());
  env.reset(1);
  for (int t = 0; t < 9; ++t) {
    env.step(kUpA);
    clear_entities(env);
  }
  BOOST_TEST(env.state().player_y == 1);
  for (int t = 0; t < 9; ++t) {
    env.step(kDownA);
    clear_entities(env);
  }
  BOOST_TEST(env.state().player_y == 8);
  for (int t = 0; t < 7; ++t) {
    env.step(kLeftA);
    clear_entities(env);
  }
  BOOST_TEST(env.state().player_x == 0);
}

BOOST_AUTO_TEST_CASE(difficulty_ramps_every_100_frames) {
  AsterixEnv env(test::no_sticky());
  env.reset(2);
  auto run = [&](int frames) {
    for (int t = 0; t < frames; ++t) {
      clear_entities(env);
      BOOST_REQUIRE(!env.step(kNoopA).done());
    }
  };
  run(99);
  BOOST_TEST(env.state().spawn_interval == 10);
  run(1);
  BOOST_TEST(env.state().spawn_interval == 9);
  BOOST_TEST(env.state().move_interval == 5);  // the move interval falls on every second ramp
  BOOST_TEST(env.state().ramp_index == 1);
  run(100);
  BOOST_TEST(env.state().spawn_interval == 8);
  BOOST_TEST(env.state().move_interval == 4);
  run(1800);  // 20 ramps in all: both intervals reach their floor of 1
  BOOST_TEST(env.state().spawn_interval == 1);
  BOOST_TEST(env.state().move_interval == 1);

  EnvOptions flat = test::no_sticky();
  flat.difficulty_ramping = false;
  AsterixEnv no_ramp(flat);
  no_ramp.reset(2);
  for (int t = 0; t < 300; ++t) {
    for (auto& e : no_ramp.state_for_test().rows) e.active = false;
    no_ramp.step(kNoopA);
  }
  BOOST_TEST(no_ramp.state().spawn_interval == 10);
  BOOST_TEST(no_ramp.state().move_interval == 5);
}

BOOST_AUTO_TEST_SUITE_END()
