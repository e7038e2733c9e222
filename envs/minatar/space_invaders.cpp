#include "envs/minatar/space_invaders.h"

#include <algorithm>
#include <bit>
#include <cstdlib>

namespace vkwb::envs {

namespace {
const Rgb kColours[] = {{80, 160, 255}, {120, 220, 90}, {120, 220, 90}, {60, 170, 200}, {255, 255, 255}, {255, 90, 90}};
// Show the direction planes rather than the plain alien plane, which always coincides with them.
const int kRenderOrder[] = {0, 4, 5, 2, 3, 1};
constexpr uint16_t kLeftColumn = 1u << 0;
constexpr uint16_t kRightColumn = 1u << 9;
constexpr uint16_t kWaveRow = 0b0011111100;  // columns 2-7
}  // namespace

SpaceInvadersEnv::SpaceInvadersEnv(const EnvOptions& opts)
    : MinAtarEnv("space_invaders", 6, {kNoop, kLeft, kRight, kFire}, kColours, opts) {
  set_render_order(kRenderOrder);
}

int SpaceInvadersEnv::alien_count() const {
  int n = 0;
  for (uint16_t row : s_.aliens) n += std::popcount(row);
  return n;
}

void SpaceInvadersEnv::spawn_wave() {
  for (int y = 0; y < 4; ++y) s_.aliens[y] = kWaveRow;
}

void SpaceInvadersEnv::reset_game() {
  s_ = SpaceInvadersState{};
  spawn_wave();
}

void SpaceInvadersEnv::move_aliens(bool& terminal) {
  uint16_t any = 0;
  for (uint16_t row : s_.aliens) any |= row;
  const bool at_edge = (s_.alien_dir < 0 && (any & kLeftColumn)) || (s_.alien_dir > 0 && (any & kRightColumn));
  if (at_edge) {
    s_.alien_dir = int8_t(-s_.alien_dir);
    if (s_.aliens[9]) terminal = true;  // nowhere left to drop: the aliens have landed
    for (int y = 9; y > 0; --y) s_.aliens[y] = s_.aliens[y - 1];
    s_.aliens[0] = 0;
  } else {
    for (auto& row : s_.aliens) row = uint16_t((s_.alien_dir < 0 ? row >> 1 : row << 1) & 0x3FF);
  }
  if (s_.aliens[9] & (1u << s_.cannon_x)) terminal = true;
}

void SpaceInvadersEnv::alien_fire() {
  // Columns by distance from the cannon, the left one first on ties.
  for (int d = 0; d < 10; ++d) {
    for (int x : {s_.cannon_x - d, s_.cannon_x + d}) {
      if (x < 0 || x > 9) continue;
      for (int y = 9; y >= 0; --y) {
        if (s_.aliens[y] & (1u << x)) {
          s_.enemy_bullets[y] |= uint16_t(1u << x);
          return;
        }
      }
      if (d == 0) break;
    }
  }
}

float SpaceInvadersEnv::act(int a, bool& terminal) {
  if (a == kFire) {
    if (s_.shot_timer == 0) {
      s_.friendly_bullets[9] |= uint16_t(1u << s_.cannon_x);
      s_.shot_timer = kShotCooldown;
    }
  } else if (a == kLeft) {
    s_.cannon_x = int8_t(std::max(0, s_.cannon_x - 1));
  } else if (a == kRight) {
    s_.cannon_x = int8_t(std::min(9, s_.cannon_x + 1));
  }
  const uint16_t cannon = uint16_t(1u << s_.cannon_x);

  for (int y = 0; y < 9; ++y) s_.friendly_bullets[y] = s_.friendly_bullets[y + 1];
  s_.friendly_bullets[9] = 0;
  for (int y = 9; y > 0; --y) s_.enemy_bullets[y] = s_.enemy_bullets[y - 1];
  s_.enemy_bullets[0] = 0;
  if (s_.enemy_bullets[9] & cannon) terminal = true;

  if (s_.aliens[9] & cannon) terminal = true;
  if (s_.alien_move_timer == 0) {
    s_.alien_move_timer = int16_t(std::max(1, std::min<int>(alien_count(), s_.move_interval)));
    move_aliens(terminal);
  }
  if (s_.alien_shot_timer == 0) {
    s_.alien_shot_timer = kEnemyShotInterval;
    alien_fire();
  }

  float reward = 0.0f;
  for (int y = 0; y < 10; ++y) {
    const uint16_t kills = s_.aliens[y] & s_.friendly_bullets[y];
    if (!kills) continue;
    reward += float(std::popcount(kills));
    s_.aliens[y] &= uint16_t(~kills);
    s_.friendly_bullets[y] &= uint16_t(~kills);
  }

  if (s_.shot_timer > 0) --s_.shot_timer;
  --s_.alien_move_timer;
  --s_.alien_shot_timer;
  if (alien_count() == 0) {
    if (ramping() && s_.move_interval > kMinMoveInterval) {
      --s_.move_interval;
      ++s_.ramp_index;
    }
    spawn_wave();
  }
  return reward;
}

void SpaceInvadersEnv::write_observation(uint8_t* obs) const {
  set_cell(obs, 0, 9, s_.cannon_x);
  const int dir_plane = s_.alien_dir < 0 ? 2 : 3;
  auto scatter = [&](uint16_t row, int y, int c0, int c1) {
    for (; row; row &= uint16_t(row - 1)) {
      const int x = std::countr_zero(row);
      set_cell(obs, c0, y, x);
      if (c1 >= 0) set_cell(obs, c1, y, x);
    }
  };
  for (int y = 0; y < 10; ++y) {
    scatter(s_.aliens[y], y, 1, dir_plane);
    scatter(s_.friendly_bullets[y], y, 4, -1);
    scatter(s_.enemy_bullets[y], y, 5, -1);
  }
}

}  // namespace vkwb::envs
