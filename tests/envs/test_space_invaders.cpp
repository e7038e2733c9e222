// Scripted Space Invaders trajectories.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <iterator>

#include "env_test_util.h"
#include "envs/minatar/space_invaders.h"

using namespace vkwb::envs;

namespace {
constexpr int kNoopA = 0, kLeftA = 1, kRightA = 2, kFireA = 3;
enum { kCannon, kAlien, kAlienLeft, kAlienRight, kFriendlyBullet, kEnemyBullet };

uint16_t bit(int x) { return uint16_t(1u << x); }

// Steps while removing enemy bullets, so timing tests are not cut short by the aliens' fire.
StepResult safe_step(SpaceInvadersEnv& env, int action) {
  for (auto& row : env.state_for_test().enemy_bullets) row = 0;
  return env.step(action);
}

int leftmost_alien_x(const SpaceInvadersEnv& env) {
  for (int x = 0; x < 10; ++x)
    for (uint16_t row : env.state().aliens)
      if (row & bit(x)) return x;
  return -1;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(space_invaders)

BOOST_AUTO_TEST_CASE(reset_layout) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  BOOST_TEST(env.alien_count() == 24);
  BOOST_TEST(test::plane_count(env, kAlien) == 24);
  BOOST_TEST(test::plane_count(env, kAlienLeft) == 24);  // the block starts moving left
  BOOST_TEST(test::plane_count(env, kAlienRight) == 0);
  BOOST_TEST(test::cell(env, kAlien, 0, 2));
  BOOST_TEST(test::cell(env, kAlien, 3, 7));
  BOOST_TEST(!test::cell(env, kAlien, 4, 7));
  BOOST_TEST(test::cell(env, kCannon, 9, 5));
}

BOOST_AUTO_TEST_CASE(full_block_moves_every_12_frames) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  std::vector<int> move_frames;
  SpaceInvadersState before = env.state();
  for (int t = 1; t <= 40; ++t) {
    BOOST_REQUIRE(!safe_step(env, kNoopA).done());
    if (!std::equal(std::begin(before.aliens), std::end(before.aliens), std::begin(env.state().aliens)))
      move_frames.push_back(t);
    before = env.state();
  }
  // Left, left, then at the edge: drop a row.
  BOOST_TEST(move_frames == (std::vector<int>{13, 25, 37}), boost::test_tools::per_element());
  BOOST_TEST(env.state().aliens[4] == 0b111111);  // columns 0-5, rows 1-4
  BOOST_TEST(env.state().alien_dir == 1);
}

BOOST_AUTO_TEST_CASE(few_aliens_move_every_n_frames) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  SpaceInvadersState& s = env.state_for_test();
  for (auto& row : s.aliens) row = 0;
  s.aliens[1] = bit(5) | bit(6) | bit(7);
  s.alien_move_timer = 0;
  std::vector<int> xs;
  for (int t = 1; t <= 7; ++t) {
    safe_step(env, kNoopA);
    xs.push_back(leftmost_alien_x(env));
  }
  // 3 aliens: a move every 3 frames.
  BOOST_TEST(xs == (std::vector<int>{4, 4, 4, 3, 3, 3, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(block_drops_and_turns_at_the_edge) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  SpaceInvadersState& s = env.state_for_test();
  for (auto& row : s.aliens) row = 0;
  s.aliens[2] = bit(0) | bit(1);
  s.alien_move_timer = 0;
  safe_step(env, kNoopA);
  BOOST_TEST(env.state().aliens[2] == 0);
  BOOST_TEST(env.state().aliens[3] == (bit(0) | bit(1)));
  BOOST_TEST(env.state().alien_dir == 1);
  BOOST_TEST(test::plane_count(env, kAlienRight) == 2);
}

BOOST_AUTO_TEST_CASE(nearest_alien_fires_every_10_frames) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  for (int t = 1; t <= 10; ++t) env.step(kNoopA);
  BOOST_TEST(test::plane_count(env, kEnemyBullet) == 0);
  env.step(kNoopA);
  // The cannon is under column 5; the lowest alien there is in row 3.
  BOOST_TEST(test::plane_count(env, kEnemyBullet) == 1);
  BOOST_TEST(test::cell(env, kEnemyBullet, 3, 5));
  env.step(kLeftA);
  BOOST_TEST(test::cell(env, kEnemyBullet, 4, 5));
  for (int t = 13; t <= 21; ++t) env.step(kLeftA);
  // The cannon is at column 0 now: the nearest column with aliens is the leftmost one. The first
  // bullet fell off the bottom on frame 18.
  BOOST_TEST(test::plane_count(env, kEnemyBullet) == 1);
  BOOST_TEST(test::cell(env, kEnemyBullet, 3, leftmost_alien_x(env)));
}

BOOST_AUTO_TEST_CASE(player_shots_have_cooldown_5) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  std::vector<int> fired;
  for (int t = 1; t <= 12; ++t) {
    safe_step(env, kFireA);
    if (test::cell(env, kFriendlyBullet, 8, 5)) fired.push_back(t);
  }
  BOOST_TEST(fired == (std::vector<int>{1, 6, 11}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(each_alien_shot_gives_plus_one) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  SpaceInvadersState& s = env.state_for_test();
  for (auto& row : s.aliens) row = 0;
  s.aliens[7] = bit(5);
  s.aliens[0] = bit(0);
  s.alien_move_timer = 100;
  float total = safe_step(env, kFireA).reward;  // bullet in row 8
  total += safe_step(env, kNoopA).reward;       // row 7: hit
  BOOST_TEST(total == 1.0f);
  BOOST_TEST(env.alien_count() == 1);
  BOOST_TEST(test::plane_count(env, kFriendlyBullet) == 0);
}

BOOST_AUTO_TEST_CASE(cleared_wave_respawns_faster) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  SpaceInvadersState& s = env.state_for_test();
  for (auto& row : s.aliens) row = 0;
  s.aliens[8] = bit(5);
  s.alien_move_timer = 100;
  const StepResult r = safe_step(env, kFireA);
  BOOST_TEST(r.reward == 1.0f);
  BOOST_TEST(env.alien_count() == 24);
  BOOST_TEST(env.state().move_interval == 11);
  BOOST_TEST(env.state().ramp_index == 1);
}

BOOST_AUTO_TEST_CASE(alien_or_bullet_reaching_the_cannon_ends_the_episode) {
  SpaceInvadersEnv env(test::no_sticky());
  env.reset(0);
  SpaceInvadersState& s = env.state_for_test();
  s.enemy_bullets[8] = bit(5);
  BOOST_TEST(env.step(kNoopA).terminated);

  SpaceInvadersEnv env2(test::no_sticky());
  env2.reset(0);
  SpaceInvadersState& s2 = env2.state_for_test();
  for (auto& row : s2.aliens) row = 0;
  s2.aliens[8] = bit(9) | bit(3);
  s2.alien_dir = 1;
  s2.alien_move_timer = 0;
  s2.cannon_x = 9;
  BOOST_TEST(safe_step(env2, kNoopA).terminated);  // at the right edge: drops onto the cannon
}

BOOST_AUTO_TEST_SUITE_END()
