// MinAtar Freeway. The chicken stays in column 4 and crosses eight lanes of traffic (rows 1-8, one
// car per lane) from the bottom row to the top row; it can move at most once every 3 frames. Each car
// moves one cell every 1-5 frames (its speed) left or right and wraps around at the edges. Reaching
// the top row gives +1, puts the chicken back at the bottom and re-draws all car speeds and
// directions; being hit by a car puts it back at the bottom. The game ends (terminated, as in
// MinAtar) after 2500 frames.
// Planes: 0 chicken, 1 car, 2-6 the cell behind a car (its trail) in the plane of its speed
// (speed 1 = moves every frame ... speed 5 = every 5th frame). Minimal actions: noop, up, down.
#pragma once
#include "envs/minatar/minatar_env.h"

namespace vkwb::envs {

struct FreewayCar {
  int8_t x = 0, lane = 0;   // lane is the row, 1-8
  int8_t timer = 0;         // frames until the next move
  int8_t velocity = 0;      // +-speed: sign = direction (+ = right), |velocity| = frames per move
};

struct FreewayState {
  FreewayCar cars[8];
  int8_t chicken_y = 9;
  int8_t move_timer = 0;  // frames until the chicken may move again
  int16_t frame = 0;
};

class FreewayEnv final : public MinAtarEnv {
 public:
  static constexpr int kChickenX = 4;
  static constexpr int kMoveCooldown = 3;
  static constexpr int kTimeLimit = 2500;

  explicit FreewayEnv(const EnvOptions& opts = {});
  FreewayState& state_for_test() { return s_; }
  const FreewayState& state() const { return s_; }

 protected:
  void reset_game() override;
  float act(int full_action, bool& terminal) override;
  void write_observation(uint8_t* obs) const override;
  void save_game(StateWriter& w) const override { w.put(s_); }
  void load_game(StateReader& r) override { r.get(s_); }

 private:
  void randomize_cars(bool reposition);
  bool hit(const FreewayCar& car) const { return car.x == kChickenX && car.lane == s_.chicken_y; }
  FreewayState s_;
};

}  // namespace vkwb::envs
