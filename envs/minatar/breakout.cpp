#include "envs/minatar/breakout.h"

#include <algorithm>
#include <cstring>

namespace vkwb::envs {

namespace {
const Rgb kColours[] = {{80, 160, 255}, {250, 250, 250}, {120, 120, 140}, {230, 110, 50}};
// Direction after hitting a horizontal surface (ceiling, brick, paddle top): vertical component flips.
constexpr int8_t kFlipVertical[4] = {3, 2, 1, 0};
// Direction after hitting a side wall: horizontal component flips.
constexpr int8_t kFlipHorizontal[4] = {1, 0, 3, 2};
// Direction after hitting the paddle's corner: straight back.
constexpr int8_t kReverse[4] = {2, 3, 0, 1};
}  // namespace

BreakoutEnv::BreakoutEnv(const EnvOptions& opts)
    : MinAtarEnv("breakout", 4, {kNoop, kLeft, kRight}, kColours, opts) {}

void BreakoutEnv::fill_bricks() {
  for (int y = 1; y <= 3; ++y) std::memset(s_.bricks[y], 1, 10);
  s_.brick_count = 30;
}

void BreakoutEnv::reset_game() {
  s_ = BreakoutState{};
  s_.ball_y = 3;
  if (rng().below(2) == 0) {
    s_.ball_x = 0;
    s_.ball_dir = 2;
  } else {
    s_.ball_x = 9;
    s_.ball_dir = 3;
  }
  s_.last_x = s_.ball_x;
  s_.last_y = s_.ball_y;
  s_.paddle_x = 4;
  fill_bricks();
}

float BreakoutEnv::act(int a, bool& terminal) {
  float reward = 0.0f;
  if (a == kLeft) s_.paddle_x = int8_t(std::max(0, s_.paddle_x - 1));
  if (a == kRight) s_.paddle_x = int8_t(std::min(9, s_.paddle_x + 1));

  s_.last_x = s_.ball_x;
  s_.last_y = s_.ball_y;
  int nx = s_.ball_x + ((s_.ball_dir == 1 || s_.ball_dir == 2) ? 1 : -1);
  int ny = s_.ball_y + (s_.ball_dir < 2 ? -1 : 1);

  bool touching_brick = false;
  if (nx < 0 || nx > 9) {
    nx = std::clamp(nx, 0, 9);
    s_.ball_dir = kFlipHorizontal[s_.ball_dir];
  }
  if (ny < 0) {
    ny = 0;
    s_.ball_dir = kFlipVertical[s_.ball_dir];
  } else if (s_.bricks[ny][nx]) {
    touching_brick = true;
    if (!s_.strike) {
      reward += 1.0f;
      s_.strike = true;
      s_.bricks[ny][nx] = 0;
      --s_.brick_count;
      ny = s_.last_y;
      s_.ball_dir = kFlipVertical[s_.ball_dir];
    }
  } else if (ny == 9) {
    if (s_.brick_count == 0) fill_bricks();
    if (s_.ball_x == s_.paddle_x) {
      s_.ball_dir = kFlipVertical[s_.ball_dir];
      ny = s_.last_y;
    } else if (nx == s_.paddle_x) {
      s_.ball_dir = kReverse[s_.ball_dir];
      ny = s_.last_y;
    } else {
      terminal = true;
    }
  }
  if (!touching_brick) s_.strike = false;
  s_.ball_x = int8_t(nx);
  s_.ball_y = int8_t(ny);
  return reward;
}

void BreakoutEnv::write_observation(uint8_t* obs) const {
  set_cell(obs, 0, 9, s_.paddle_x);
  set_cell(obs, 1, s_.ball_y, s_.ball_x);
  set_cell(obs, 2, s_.last_y, s_.last_x);
  std::memcpy(plane(obs, 3), s_.bricks, sizeof(s_.bricks));
}

}  // namespace vkwb::envs
