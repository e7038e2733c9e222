// MinAtar Asterix. The player moves in four directions within rows 1-8. Every spawn interval
// (initially 10 frames) an entity enters from the left or right edge in a free row (one entity per
// row); one in three is gold, the rest are enemies. Entities move one cell every move interval
// (initially 5 frames) and leave at the far edge. Touching gold gives +1 and removes it; touching an
// enemy ends the episode. With difficulty ramping, every 100 frames the spawn interval falls by 1,
// and on every second ramp the move interval falls by 1 too (both stop at 1).
// Planes: 0 player, 1 enemy, 2 trail (the cell an entity came from), 3 gold.
// Minimal actions: noop, left, up, right, down.
#pragma once
#include "envs/minatar/minatar_env.h"

namespace vkwb::envs {

struct AsterixEntity {
  int8_t x = 0;
  bool moving_right = false;
  bool gold = false;
  bool active = false;
};

struct AsterixState {
  int8_t player_x = 5, player_y = 5;
  AsterixEntity rows[8];  // rows[i] lives in grid row i + 1
  int16_t spawn_interval = 10, spawn_timer = 10;
  int16_t move_interval = 5, move_timer = 5;
  int16_t ramp_index = 0;
  int32_t frame = 0;
};

class AsterixEnv final : public MinAtarEnv {
 public:
  static constexpr int kRampInterval = 100;

  explicit AsterixEnv(const EnvOptions& opts = {});
  AsterixState& state_for_test() { return s_; }
  const AsterixState& state() const { return s_; }

 protected:
  void reset_game() override;
  float act(int full_action, bool& terminal) override;
  void write_observation(uint8_t* obs) const override;
  void save_game(StateWriter& w) const override { w.put(s_); }
  void load_game(StateReader& r) override { r.get(s_); }

 private:
  void spawn_entity();
  // Gold at the player's cell is collected (+1), an enemy there ends the game.
  void collide(int row, float& reward, bool& terminal);
  AsterixState s_;
};

}  // namespace vkwb::envs
