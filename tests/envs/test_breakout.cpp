// Scripted Breakout trajectories: each test puts the ball somewhere and checks one rule.
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "env_test_util.h"
#include "envs/minatar/breakout.h"

using namespace vkwb::envs;

namespace {
constexpr int kNoopA = 0, kLeftA = 1, kRightA = 2;  // minimal action indices
enum { kPaddle, kBall, kTrail, kBrick };

BreakoutEnv make(int ball_x, int ball_y, int dir, int paddle_x) {
  BreakoutEnv env(test::no_sticky());
  env.reset(0);
  BreakoutState& s = env.state_for_test();
  s.ball_x = s.last_x = int8_t(ball_x);
  s.ball_y = s.last_y = int8_t(ball_y);
  s.ball_dir = int8_t(dir);
  s.paddle_x = int8_t(paddle_x);
  return env;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(breakout)

BOOST_AUTO_TEST_CASE(reset_layout) {
  BreakoutEnv env(test::no_sticky());
  for (uint64_t seed = 0; seed < 20; ++seed) {
    env.reset(seed);
    const BreakoutState& s = env.state();
    BOOST_TEST(s.ball_y == 3);
    BOOST_TEST(((s.ball_x == 0 && s.ball_dir == 2) || (s.ball_x == 9 && s.ball_dir == 3)));
    BOOST_TEST(s.paddle_x == 4);
    BOOST_TEST(s.brick_count == 30);
    BOOST_TEST(test::plane_count(env, kBrick) == 30);
    for (int x = 0; x < 10; ++x) BOOST_TEST((test::cell(env, kBrick, 1, x) && test::cell(env, kBrick, 3, x)));
    BOOST_TEST(test::cell(env, kPaddle, 9, 4));
  }
}

BOOST_AUTO_TEST_CASE(brick_hit_scores_and_reflects) {
  BreakoutEnv env = make(2, 4, /*up-left*/ 0, 5);
  const StepResult r = env.step(kNoopA);
  BOOST_TEST(r.reward == 1.0f);
  BOOST_TEST(!r.terminated);
  const BreakoutState& s = env.state();
  BOOST_TEST(s.bricks[3][1] == 0);
  BOOST_TEST(s.brick_count == 29);
  BOOST_TEST(!test::cell(env, kBrick, 3, 1));
  BOOST_TEST(test::plane_count(env, kBrick) == 29);
  // Reflected: stays in its row and now heads down-left.
  BOOST_TEST(s.ball_x == 1);
  BOOST_TEST(s.ball_y == 4);
  BOOST_TEST(s.ball_dir == 3);
  BOOST_TEST(test::cell(env, kBall, 4, 1));
  BOOST_TEST(test::cell(env, kTrail, 4, 2));
}

BOOST_AUTO_TEST_CASE(walls_and_ceiling_reflect) {
  BreakoutEnv env = make(0, 6, /*down-left*/ 3, 5);
  BOOST_TEST(env.step(kNoopA).reward == 0.0f);
  BOOST_TEST(env.state().ball_x == 0);
  BOOST_TEST(env.state().ball_y == 7);
  BOOST_TEST(env.state().ball_dir == 2);  // now down-right

  BreakoutEnv top = make(5, 0, /*up-right*/ 1, 5);
  top.step(kNoopA);
  BOOST_TEST(top.state().ball_x == 6);
  BOOST_TEST(top.state().ball_y == 0);
  BOOST_TEST(top.state().ball_dir == 2);
}

BOOST_AUTO_TEST_CASE(ball_passing_the_paddle_ends_the_episode) {
  BreakoutEnv env = make(2, 8, /*down-right*/ 2, 7);
  const StepResult r = env.step(kNoopA);
  BOOST_TEST(r.terminated);
  BOOST_TEST(r.reward == 0.0f);
}

BOOST_AUTO_TEST_CASE(paddle_bounces_the_ball) {
  BreakoutEnv above = make(2, 8, 2, 2);  // paddle right under the ball
  BOOST_TEST(!above.step(kNoopA).terminated);
  BOOST_TEST(above.state().ball_dir == 1);  // up-right
  BOOST_TEST(above.state().ball_x == 3);
  BOOST_TEST(above.state().ball_y == 8);

  BreakoutEnv corner = make(2, 8, 2, 3);  // paddle where the ball is heading
  BOOST_TEST(!corner.step(kNoopA).terminated);
  BOOST_TEST(corner.state().ball_dir == 0);  // straight back: up-left
}

BOOST_AUTO_TEST_CASE(bricks_refill_when_cleared) {
  BreakoutEnv env = make(2, 8, 2, 2);
  BreakoutState& s = env.state_for_test();
  std::memset(s.bricks, 0, sizeof(s.bricks));
  s.brick_count = 0;
  env.step(kNoopA);
  BOOST_TEST(env.state().brick_count == 30);
  BOOST_TEST(test::plane_count(env, kBrick) == 30);
  for (int x = 0; x < 10; ++x) BOOST_TEST(env.state().bricks[2][x] == 1);
}

BOOST_AUTO_TEST_CASE(paddle_moves_and_stops_at_the_walls) {
  BreakoutEnv env = make(5, 5, 0, 1);
  env.step(kLeftA);
  BOOST_TEST(env.state().paddle_x == 0);
  env.step(kLeftA);
  BOOST_TEST(env.state().paddle_x == 0);
  env.step(kRightA);
  BOOST_TEST(env.state().paddle_x == 1);
  BOOST_TEST(test::cell(env, kPaddle, 9, 1));
}

BOOST_AUTO_TEST_CASE(random_play_scores_and_ends) {
  BreakoutEnv env(test::no_sticky());
  env.reset(4);
  float total = 0.0f;
  int episodes = 0;
  for (int t = 0; t < 5000; ++t) {
    const StepResult r = env.step(t % 3);
    total += r.reward;
    if (r.done()) {
      ++episodes;
      env.reset(uint64_t(t));
    }
    BOOST_REQUIRE(env.state().brick_count == test::plane_count(env, kBrick));
  }
  BOOST_TEST(total > 0.0f);
  BOOST_TEST(episodes > 0);
}

BOOST_AUTO_TEST_SUITE_END()
