#include "envs/minatar/asterix.h"

#include <algorithm>

namespace vkwb::envs {

namespace {
const Rgb kColours[] = {{80, 160, 255}, {220, 60, 60}, {120, 120, 140}, {250, 210, 40}};
const int kRenderOrder[] = {0, 1, 3, 2};
}

AsterixEnv::AsterixEnv(const EnvOptions& opts)
    : MinAtarEnv("asterix", 4, {kNoop, kLeft, kUp, kRight, kDown}, kColours, opts) {
  set_render_order(kRenderOrder);
}

void AsterixEnv::reset_game() { s_ = AsterixState{}; }

void AsterixEnv::spawn_entity() {
  const bool from_left = rng().below(2) == 0;
  const bool gold = rng().below(3) == 0;
  int free_rows[8];
  int n = 0;
  for (int i = 0; i < 8; ++i)
    if (!s_.rows[i].active) free_rows[n++] = i;
  if (n == 0) return;
  AsterixEntity& e = s_.rows[free_rows[rng().below(uint32_t(n))]];
  e.x = int8_t(from_left ? 0 : 9);
  e.moving_right = from_left;
  e.gold = gold;
  e.active = true;
}

void AsterixEnv::collide(int row, float& reward, bool& terminal) {
  AsterixEntity& e = s_.rows[row];
  if (!e.active || e.x != s_.player_x || row + 1 != s_.player_y) return;
  if (e.gold) {
    e.active = false;
    reward += 1.0f;
  } else {
    terminal = true;
  }
}

float AsterixEnv::act(int a, bool& terminal) {
  float reward = 0.0f;
  if (s_.spawn_timer == 0) {
    spawn_entity();
    s_.spawn_timer = s_.spawn_interval;
  }
  switch (a) {
    case kLeft: s_.player_x = int8_t(std::max(0, s_.player_x - 1)); break;
    case kRight: s_.player_x = int8_t(std::min(9, s_.player_x + 1)); break;
    case kUp: s_.player_y = int8_t(std::max(1, s_.player_y - 1)); break;
    case kDown: s_.player_y = int8_t(std::min(8, s_.player_y + 1)); break;
    default: break;
  }
  for (int i = 0; i < 8; ++i) collide(i, reward, terminal);
  if (s_.move_timer == 0) {
    s_.move_timer = s_.move_interval;
    for (int i = 0; i < 8; ++i) {
      AsterixEntity& e = s_.rows[i];
      if (!e.active) continue;
      e.x = int8_t(e.x + (e.moving_right ? 1 : -1));
      if (e.x < 0 || e.x > 9) {
        e.active = false;
        continue;
      }
      collide(i, reward, terminal);
    }
  }
  --s_.spawn_timer;
  --s_.move_timer;
  ++s_.frame;
  if (ramping() && s_.frame % kRampInterval == 0 && (s_.spawn_interval > 1 || s_.move_interval > 1)) {
    if (s_.move_interval > 1 && s_.ramp_index % 2 == 1) --s_.move_interval;
    if (s_.spawn_interval > 1) --s_.spawn_interval;
    ++s_.ramp_index;
  }
  return reward;
}

void AsterixEnv::write_observation(uint8_t* obs) const {
  set_cell(obs, 0, s_.player_y, s_.player_x);
  for (int i = 0; i < 8; ++i) {
    const AsterixEntity& e = s_.rows[i];
    if (!e.active) continue;
    set_cell(obs, e.gold ? 3 : 1, i + 1, e.x);
    const int back = e.x + (e.moving_right ? -1 : 1);
    if (back >= 0 && back <= 9) set_cell(obs, 2, i + 1, back);
  }
}

}  // namespace vkwb::envs
