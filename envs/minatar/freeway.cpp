#include "envs/minatar/freeway.h"

#include <algorithm>
#include <cstdlib>

namespace vkwb::envs {

namespace {
const Rgb kColours[] = {{250, 220, 60}, {220, 60, 60},   {255, 150, 150}, {230, 130, 170},
                        {200, 120, 200}, {150, 120, 220}, {100, 120, 220}};
}

FreewayEnv::FreewayEnv(const EnvOptions& opts) : MinAtarEnv("freeway", 7, {kNoop, kUp, kDown}, kColours, opts) {}

void FreewayEnv::randomize_cars(bool reposition) {
  int8_t speed[8];
  for (auto& s : speed) s = int8_t(1 + rng().below(5));
  for (int i = 0; i < 8; ++i) {
    FreewayCar& car = s_.cars[i];
    car.velocity = rng().below(2) ? speed[i] : int8_t(-speed[i]);
    car.timer = speed[i];
    if (reposition) {
      car.x = 0;
      car.lane = int8_t(i + 1);
    }
  }
}

void FreewayEnv::reset_game() {
  s_ = FreewayState{};
  randomize_cars(true);
  s_.chicken_y = 9;
  s_.move_timer = kMoveCooldown;
  s_.frame = 0;
}

float FreewayEnv::act(int a, bool& terminal) {
  float reward = 0.0f;
  if ((a == kUp || a == kDown) && s_.move_timer == 0) {
    s_.move_timer = kMoveCooldown;
    s_.chicken_y = int8_t(a == kUp ? std::max(0, s_.chicken_y - 1) : std::min(9, s_.chicken_y + 1));
  }
  if (s_.chicken_y == 0) {
    reward += 1.0f;
    randomize_cars(false);
    s_.chicken_y = 9;
  }
  for (auto& car : s_.cars) {
    if (hit(car)) s_.chicken_y = 9;  // the chicken stepped into a car
    if (car.timer == 0) {
      car.timer = int8_t(std::abs(car.velocity));
      car.x = int8_t(car.x + (car.velocity > 0 ? 1 : -1));
      if (car.x < 0) car.x = 9;
      if (car.x > 9) car.x = 0;
      if (hit(car)) s_.chicken_y = 9;  // a car drove into the chicken
    } else {
      --car.timer;
    }
  }
  if (s_.move_timer > 0) --s_.move_timer;
  ++s_.frame;
  if (s_.frame >= kTimeLimit) terminal = true;
  return reward;
}

void FreewayEnv::write_observation(uint8_t* obs) const {
  set_cell(obs, 0, s_.chicken_y, kChickenX);
  for (const auto& car : s_.cars) {
    set_cell(obs, 1, car.lane, car.x);
    int back = car.x + (car.velocity > 0 ? -1 : 1);
    if (back < 0) back = 9;
    if (back > 9) back = 0;
    set_cell(obs, 1 + std::abs(car.velocity), car.lane, back);
  }
}

}  // namespace vkwb::envs
