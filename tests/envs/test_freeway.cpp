// Scripted Freeway trajectories.
#include <boost/test/unit_test.hpp>

#include <cstdlib>

#include "env_test_util.h"
#include "envs/minatar/freeway.h"

using namespace vkwb::envs;

namespace {
constexpr int kNoopA = 0, kUpA = 1, kDownA = 2;
enum { kChicken, kCar };

// Cars parked in column 0 with long timers, so they stay out of the chicken's way for a while.
void park_cars(FreewayEnv& env) {
  for (auto& car : env.state_for_test().cars) {
    car.x = 0;
    car.timer = 120;
  }
}
}  // namespace

BOOST_AUTO_TEST_SUITE(freeway)

BOOST_AUTO_TEST_CASE(reset_layout) {
  FreewayEnv env(test::no_sticky());
  env.reset(3);
  const FreewayState& s = env.state();
  BOOST_TEST(s.chicken_y == 9);
  for (int i = 0; i < 8; ++i) {
    BOOST_TEST(s.cars[i].lane == i + 1);
    BOOST_TEST(s.cars[i].x == 0);
    const int speed = std::abs(s.cars[i].velocity);
    BOOST_TEST((speed >= 1 && speed <= 5));
    BOOST_TEST(test::cell(env, kCar, i + 1, 0));
    // The trail sits behind the car, in the plane of its speed.
    const int back = s.cars[i].velocity > 0 ? 9 : 1;
    BOOST_TEST(test::cell(env, 1 + speed, i + 1, back));
  }
  BOOST_TEST(test::cell(env, kChicken, 9, FreewayEnv::kChickenX));
}

BOOST_AUTO_TEST_CASE(chicken_moves_at_most_every_three_frames) {
  FreewayEnv env(test::no_sticky());
  env.reset(1);
  park_cars(env);
  std::vector<int> ys;
  for (int t = 0; t < 12; ++t) {
    env.step(kUpA);
    ys.push_back(env.state().chicken_y);
  }
  // The cooldown starts full at reset: first move on frame 4, then frames 7 and 10.
  const std::vector<int> expected = {9, 9, 9, 8, 8, 8, 7, 7, 7, 6, 6, 6};
  BOOST_TEST(ys == expected, boost::test_tools::per_element());
  env.step(kDownA);
  BOOST_TEST(env.state().chicken_y == 7);
}

BOOST_AUTO_TEST_CASE(reaching_the_top_scores_and_restarts) {
  FreewayEnv env(test::no_sticky());
  env.reset(2);
  park_cars(env);
  FreewayState& s = env.state_for_test();
  s.chicken_y = 1;
  s.move_timer = 0;
  const StepResult r = env.step(kUpA);
  BOOST_TEST(r.reward == 1.0f);
  BOOST_TEST(!r.terminated);
  BOOST_TEST(env.state().chicken_y == 9);
  // Car speeds were re-drawn: timers restart from the new speeds (minus this frame's tick).
  bool all_redrawn = true;
  for (const auto& car : env.state().cars) all_redrawn &= car.timer == std::abs(car.velocity) - 1;
  BOOST_TEST(all_redrawn);
}

BOOST_AUTO_TEST_CASE(collisions_send_the_chicken_back) {
  FreewayEnv env(test::no_sticky());
  env.reset(2);
  park_cars(env);
  FreewayState& s = env.state_for_test();
  // A car drives into the chicken.
  s.chicken_y = 5;
  s.cars[4].x = 3;
  s.cars[4].velocity = 1;
  s.cars[4].timer = 0;
  env.step(kNoopA);
  BOOST_TEST(env.state().chicken_y == 9);

  // The chicken walks into a car.
  park_cars(env);
  s.chicken_y = 6;
  s.move_timer = 0;
  s.cars[4].x = FreewayEnv::kChickenX;
  env.step(kUpA);
  BOOST_TEST(env.state().chicken_y == 9);
}

BOOST_AUTO_TEST_CASE(cars_move_at_their_speed_and_wrap) {
  FreewayEnv env(test::no_sticky());
  env.reset(2);
  FreewayCar& car = env.state_for_test().cars[0];
  car.x = 1;
  car.velocity = -3;
  car.timer = 0;
  std::vector<int> xs;
  for (int t = 0; t < 7; ++t) {
    env.step(kNoopA);
    xs.push_back(env.state().cars[0].x);
  }
  const std::vector<int> expected = {0, 0, 0, 0, 9, 9, 9};
  BOOST_TEST(xs == expected, boost::test_tools::per_element());
  BOOST_TEST(test::cell(env, 1 + 3, 1, 0));  // trail behind a left-moving car, speed-3 plane
}

BOOST_AUTO_TEST_CASE(episode_ends_after_2500_frames) {
  FreewayEnv env(test::no_sticky());
  env.reset(5);
  for (int t = 1; t < 2500; ++t) BOOST_REQUIRE(!env.step(kNoopA).done());
  const StepResult r = env.step(kNoopA);
  BOOST_TEST(r.terminated);
  BOOST_TEST(!r.truncated);
}

BOOST_AUTO_TEST_SUITE_END()
