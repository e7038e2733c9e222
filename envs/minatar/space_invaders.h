// MinAtar Space Invaders. The cannon moves along the bottom row and fires upward (cooldown 5
// frames; bullets move one row per frame). A 4x6 block of aliens (rows 0-3, columns 2-7) moves one
// cell sideways every min(#aliens, move interval) frames (move interval initially 12), and when an
// alien is at the edge it drops one row and reverses instead. Every 10 frames the alien nearest the
// cannon (closest column, lowest alien in it) fires a bullet downward. +1 per alien shot. A cleared
// wave is replaced by a fresh block; with difficulty ramping each cleared wave lowers the move
// interval by 1 (floor 6). The episode ends when an alien or enemy bullet reaches the cannon, or
// when aliens at the bottom row have to drop further.
// Planes: 0 cannon, 1 alien, 2 alien_left, 3 alien_right (aliens again, in the plane of their current
// direction), 4 friendly_bullet, 5 enemy_bullet. Minimal actions: noop, left, right, fire.
#pragma once
#include "envs/minatar/minatar_env.h"

namespace vkwb::envs {

// Grid contents are bit rows: bit x of row[y] is cell (x, y).
struct SpaceInvadersState {
  uint16_t aliens[10] = {};
  uint16_t friendly_bullets[10] = {};
  uint16_t enemy_bullets[10] = {};
  int8_t cannon_x = 5;
  int8_t alien_dir = -1;  // -1 left, +1 right
  int16_t move_interval = 12;
  int16_t alien_move_timer = 12;
  int16_t alien_shot_timer = 10;
  int16_t shot_timer = 0;  // the player's cooldown
  int16_t ramp_index = 0;
};

class SpaceInvadersEnv final : public MinAtarEnv {
 public:
  static constexpr int kShotCooldown = 5;
  static constexpr int kEnemyShotInterval = 10;
  static constexpr int kInitialMoveInterval = 12;
  static constexpr int kMinMoveInterval = 6;

  explicit SpaceInvadersEnv(const EnvOptions& opts = {});
  SpaceInvadersState& state_for_test() { return s_; }
  const SpaceInvadersState& state() const { return s_; }
  int alien_count() const;

 protected:
  void reset_game() override;
  float act(int full_action, bool& terminal) override;
  void write_observation(uint8_t* obs) const override;
  void save_game(StateWriter& w) const override { w.put(s_); }
  void load_game(StateReader& r) override { r.get(s_); }

 private:
  void spawn_wave();
  void move_aliens(bool& terminal);
  void alien_fire();
  SpaceInvadersState s_;
};

}  // namespace vkwb::envs
