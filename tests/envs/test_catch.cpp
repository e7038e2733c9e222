#include <boost/test/unit_test.hpp>

#include "env_test_util.h"
#include "envs/catch_env.h"

using namespace vkwb::envs;

BOOST_AUTO_TEST_SUITE(catch_env)

BOOST_AUTO_TEST_CASE(ball_falls_one_row_per_step_and_is_caught) {
  CatchEnv env;
  env.reset(12);
  const int ball_x = env.ball_x();
  BOOST_TEST(env.ball_y() == 0);
  BOOST_TEST(test::cell(env, 0, 0, ball_x));
  BOOST_TEST(test::cell(env, 1, 9, 5));
  StepResult r;
  for (int t = 1; t <= 9; ++t) {
    const int action = env.paddle_x() < ball_x ? 2 : env.paddle_x() > ball_x ? 0 : 1;
    r = env.step(action);
    BOOST_TEST(env.ball_y() == t);
    BOOST_TEST(r.terminated == (t == 9));
  }
  BOOST_TEST(r.reward == 1.0f);
  BOOST_TEST(test::cell(env, 0, 9, ball_x));
}

BOOST_AUTO_TEST_CASE(missing_the_ball_costs_one) {
  CatchEnv env;
  env.reset(3);
  const int away = env.ball_x() < 5 ? 2 : 0;
  StepResult r;
  for (int t = 0; t < 9; ++t) r = env.step(away);
  BOOST_TEST(r.terminated);
  BOOST_TEST(r.reward == -1.0f);
  BOOST_TEST((env.paddle_x() == 0 || env.paddle_x() == 9));
}

BOOST_AUTO_TEST_CASE(custom_size_and_ball_columns_cover_the_row) {
  CatchEnv env(CatchOptions{5, 7});
  BOOST_TEST((env.observation_shape() == ObsShape{2, 5, 7}));
  std::vector<int> seen(7, 0);
  for (uint64_t seed = 0; seed < 200; ++seed) {
    env.reset(seed);
    seen[size_t(env.ball_x())] = 1;
  }
  for (int x = 0; x < 7; ++x) BOOST_TEST(seen[size_t(x)] == 1);
  StepResult r;
  int steps = 0;
  do {
    r = env.step(1);
    ++steps;
  } while (!r.done());
  BOOST_TEST(steps == 4);
}

BOOST_AUTO_TEST_SUITE_END()
