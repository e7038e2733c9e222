// MinAtar Breakout. A paddle on the bottom row bounces a ball, which only moves diagonally, into
// three rows of bricks (rows 1-3). +1 per brick; when no bricks are left, the three rows refill the
// next time the ball comes down to the paddle row. The ball reflects off walls and bricks; off the
// paddle it reflects straight back if the ball was above the paddle, or is sent back the way it came
// if it hits the paddle's corner. The episode ends when the ball reaches the bottom row past the paddle.
// Planes: 0 paddle, 1 ball, 2 trail (the ball's previous cell), 3 brick. Minimal actions: noop, left, right.
#pragma once
#include "envs/minatar/minatar_env.h"

namespace vkwb::envs {

struct BreakoutState {
  // Ball direction: 0 up-left, 1 up-right, 2 down-right, 3 down-left.
  int8_t ball_x = 0, ball_y = 0, ball_dir = 0;
  int8_t last_x = 0, last_y = 0;
  int8_t paddle_x = 0;
  // Set on the frame a brick is hit so that a ball still overlapping a brick the next frame
  // (after a corner bounce) does not score twice.
  bool strike = false;
  int16_t brick_count = 0;  // must equal the number of set cells in bricks
  uint8_t bricks[10][10] = {};  // [y][x]
};

class BreakoutEnv final : public MinAtarEnv {
 public:
  explicit BreakoutEnv(const EnvOptions& opts = {});
  // For scripted tests: direct access to the game state (keep brick_count consistent with bricks).
  BreakoutState& state_for_test() { return s_; }
  const BreakoutState& state() const { return s_; }

 protected:
  void reset_game() override;
  float act(int full_action, bool& terminal) override;
  void write_observation(uint8_t* obs) const override;
  void save_game(StateWriter& w) const override { w.put(s_); }
  void load_game(StateReader& r) override { r.get(s_); }

 private:
  void fill_bricks();
  BreakoutState s_;
};

}  // namespace vkwb::envs
