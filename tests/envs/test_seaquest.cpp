// Scripted Seaquest trajectories.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "env_test_util.h"
#include "envs/minatar/seaquest.h"

using namespace vkwb::envs;

namespace {
// Seaquest's minimal set is the full set.
constexpr int kNoopA = 0, kLeftA = 1, kUpA = 2, kRightA = 3, kDownA = 4, kFireA = 5;
enum { kSubFront, kSubBack, kFriendlyBullet, kTrail, kEnemyBullet, kFish, kEnemySub, kOxygen, kDiverGauge, kDiver };

// A quiet sea: nothing spawns for a long time.
SeaquestEnv quiet_env() {
  SeaquestEnv env(test::no_sticky());
  env.reset(0);
  SeaquestState& s = env.state_for_test();
  s.enemy_spawn_timer = 30000;
  s.diver_spawn_timer = 30000;
  return env;
}

SeaquestMover mover(int x, int y, bool right, int move_timer, int shot_timer = 0) {
  SeaquestMover m;
  m.x = int8_t(x);
  m.y = int8_t(y);
  m.moving_right = right;
  m.move_timer = int8_t(move_timer);
  m.shot_timer = int8_t(shot_timer);
  return m;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(seaquest)

BOOST_AUTO_TEST_CASE(reset_layout) {
  SeaquestEnv env(test::no_sticky());
  env.reset(0);
  BOOST_TEST(test::cell(env, kSubFront, 0, 5));
  BOOST_TEST(test::cell(env, kSubBack, 0, 6));  // facing left: the back is to the right
  BOOST_TEST(test::plane_count(env, kOxygen) == 10);
  BOOST_TEST(test::plane_count(env, kDiverGauge) == 0);
}

BOOST_AUTO_TEST_CASE(enemies_spawn_every_20_frames_divers_every_30) {
  SeaquestEnv env(test::no_sticky());
  env.reset(9);
  auto enemies = [&] { return env.state().fish.size() + env.state().subs.size(); };
  for (int t = 1; t <= 20; ++t) {
    env.step(kNoopA);  // at the surface: no oxygen use, unreachable for enemies
    BOOST_REQUIRE(enemies() == 0);
  }
  env.step(kNoopA);
  BOOST_TEST(enemies() == 1);
  for (int t = 22; t <= 30; ++t) env.step(kNoopA);
  BOOST_TEST(env.state().divers.size() == 0);
  env.step(kNoopA);
  BOOST_TEST(env.state().divers.size() == 1);
}

BOOST_AUTO_TEST_CASE(running_out_of_oxygen_ends_the_episode) {
  SeaquestEnv env = quiet_env();
  env.step(kDownA);
  BOOST_TEST(env.state().oxygen == 199);
  BOOST_TEST(test::plane_count(env, kOxygen) == 9);
  int frames = 1;
  StepResult r;
  while (!(r = env.step(kNoopA)).done()) ++frames;
  ++frames;
  BOOST_TEST(r.terminated);
  BOOST_TEST(frames == SeaquestEnv::kMaxOxygen);
}

BOOST_AUTO_TEST_CASE(surfacing_with_no_divers_ends_the_episode) {
  SeaquestEnv env = quiet_env();
  BOOST_TEST(!env.step(kDownA).done());
  const StepResult r = env.step(kUpA);
  BOOST_TEST(r.terminated);
  BOOST_TEST(r.reward == 0.0f);
}

BOOST_AUTO_TEST_CASE(surfacing_with_some_divers_costs_one_and_refills_oxygen) {
  SeaquestEnv env = quiet_env();
  SeaquestState& s = env.state_for_test();
  s.sub_y = 1;
  s.at_surface = false;
  s.oxygen = 37;
  s.divers_carried = 3;
  const StepResult r = env.step(kUpA);
  BOOST_TEST(!r.done());
  BOOST_TEST(r.reward == 0.0f);
  BOOST_TEST(env.state().divers_carried == 2);
  BOOST_TEST(env.state().oxygen == 200);
  BOOST_TEST(test::plane_count(env, kDiverGauge) == 2);
  BOOST_TEST(env.state().enemy_spawn_interval == 19);  // every surfacing ramps the difficulty
  // Staying at the surface does not surface again.
  BOOST_TEST(!env.step(kNoopA).done());
  BOOST_TEST(env.state().divers_carried == 2);
}

BOOST_AUTO_TEST_CASE(surfacing_with_six_divers_pays_for_the_oxygen_left) {
  SeaquestEnv env = quiet_env();
  SeaquestState& s = env.state_for_test();
  s.sub_y = 1;
  s.at_surface = false;
  s.oxygen = 150;
  s.divers_carried = 6;
  const StepResult r = env.step(kUpA);
  BOOST_TEST(r.reward == 7.0f);  // 150 * 10 / 200 = 7 (integer division)
  BOOST_TEST(!r.done());
  BOOST_TEST(env.state().divers_carried == 0);
  BOOST_TEST(env.state().oxygen == 200);
  BOOST_TEST(env.state().ramp_index == 1);
  BOOST_TEST(env.state().enemy_spawn_interval == 19);
}

BOOST_AUTO_TEST_CASE(divers_are_picked_up_up_to_six) {
  SeaquestEnv env = quiet_env();
  SeaquestState& s = env.state_for_test();
  s.sub_y = 1;
  s.at_surface = false;
  s.divers.push_back(mover(5, 2, true, 3));
  env.step(kDownA);
  BOOST_TEST(env.state().divers_carried == 1);
  BOOST_TEST(env.state().divers.size() == 0);
  BOOST_TEST(test::plane_count(env, kDiverGauge) == 1);

  s.divers_carried = 6;
  s.divers.push_back(mover(5, 3, true, 3));
  env.step(kDownA);
  BOOST_TEST(env.state().divers_carried == 6);
  BOOST_TEST(env.state().divers.size() == 1);  // full: the diver stays in the water
}

BOOST_AUTO_TEST_CASE(player_shots_have_cooldown_5) {
  SeaquestEnv env = quiet_env();
  SeaquestState& s = env.state_for_test();
  s.sub_y = 3;
  s.at_surface = false;
  s.facing_right = true;
  std::vector<int> fired;
  for (int t = 1; t <= 12; ++t) {
    env.step(kFireA);
    if (env.state().shot_timer == SeaquestEnv::kShotCooldown - 1) fired.push_back(t);
  }
  BOOST_TEST(fired == (std::vector<int>{1, 6, 11}), boost::test_tools::per_element());
  // The frame-11 bullet starts in the sub's cell and moves one cell per frame: x 6, then 7.
  BOOST_TEST(test::cell(env, kFriendlyBullet, 3, 7));
}

BOOST_AUTO_TEST_CASE(shooting_an_enemy_gives_plus_one) {
  SeaquestEnv env = quiet_env();
  SeaquestState& s = env.state_for_test();
  s.sub_y = 3;
  s.at_surface = false;
  s.facing_right = true;
  s.fish.push_back(mover(6, 3, false, 4));
  s.subs.push_back(mover(2, 3, true, 4, 5));
  StepResult r = env.step(kFireA);
  BOOST_TEST(r.reward == 1.0f);
  BOOST_TEST(env.state().fish.size() == 0);
  BOOST_TEST(env.state().friendly_bullets.size() == 0);

  // Facing left and shooting the sub behind.
  for (int t = 0; t < 4; ++t) env.step(kNoopA);  // wait out the cooldown
  s.sub_x = 4;
  s.facing_right = false;
  s.subs[0].x = 3;
  s.subs[0].move_timer = 4;
  r = env.step(kFireA);
  BOOST_TEST(r.reward == 1.0f);
  BOOST_TEST(env.state().subs.size() == 0);
}

BOOST_AUTO_TEST_CASE(enemy_contact_ends_the_episode) {
  SeaquestEnv env = quiet_env();
  SeaquestState& s = env.state_for_test();
  s.sub_y = 3;
  s.at_surface = false;
  s.fish.push_back(mover(6, 3, false, 0));  // moves into the sub this frame
  BOOST_TEST(env.step(kNoopA).terminated);

  SeaquestEnv env2 = quiet_env();
  SeaquestState& s2 = env2.state_for_test();
  s2.sub_y = 3;
  s2.at_surface = false;
  s2.enemy_bullets.push_back({6, 3, false});
  BOOST_TEST(env2.step(kNoopA).terminated);
}

BOOST_AUTO_TEST_CASE(enemy_subs_fire_every_10_frames) {
  SeaquestEnv env = quiet_env();
  SeaquestState& s = env.state_for_test();
  s.subs.push_back(mover(0, 6, true, 100, 0));
  std::vector<int> fired;
  for (int t = 1; t <= 21; ++t) {
    const int before = env.state().enemy_bullets.size();
    env.step(kNoopA);
    if (env.state().enemy_bullets.size() > before) fired.push_back(t);
  }
  BOOST_TEST(fired == (std::vector<int>{1, 11, 21}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(enemies_never_spawn_against_traffic) {
  SeaquestEnv env(test::no_sticky());
  for (uint64_t seed = 0; seed < 20; ++seed) {
    env.reset(seed);
    for (int t = 0; t < 400; ++t) {
      const StepResult r = env.step(int((t * 7 + seed) % 6));
      const SeaquestState& s = env.state();
      for (const auto& a : s.fish) {
        for (const auto& b : s.subs) BOOST_REQUIRE(!(a.y == b.y && a.moving_right != b.moving_right));
      }
      if (r.done()) break;
    }
  }
}

BOOST_AUTO_TEST_CASE(one_enemy_in_three_is_a_sub_from_either_side) {
  // Staying at the surface (no oxygen use, nothing can reach the sub), count the spawns: a new
  // enemy is one at its entry edge, moving away from it, whose move timer has ticked once (spawning
  // and the first tick happen in the same frame).
  SeaquestEnv env(test::no_sticky());
  int subs = 0, fish = 0, from_left = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    env.reset(seed);
    for (int t = 0; t < 400; ++t) {
      if (env.step(kNoopA).done()) break;
      const SeaquestState& s = env.state();
      auto fresh = [&](const SeaquestMover& m) {
        return (m.moving_right ? m.x == 0 : m.x == 9) && m.move_timer == s.move_interval - 1;
      };
      for (const auto& m : s.subs)
        if (fresh(m)) ++subs, from_left += m.moving_right;
      for (const auto& m : s.fish)
        if (fresh(m)) ++fish, from_left += m.moving_right;
    }
  }
  const int n = subs + fish;
  BOOST_TEST_MESSAGE("spawns " << n << ": subs " << subs << ", from the left " << from_left);
  BOOST_REQUIRE(n > 500);
  // Binomial: std of the fraction sqrt(p (1 - p) / n) ~ 0.02; 4 sigma.
  BOOST_TEST(std::abs(double(subs) / n - 1.0 / 3) < 0.08);
  BOOST_TEST(std::abs(double(from_left) / n - 0.5) < 0.09);
}

BOOST_AUTO_TEST_SUITE_END()
