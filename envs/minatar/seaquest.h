// MinAtar Seaquest. The player's submarine (two cells: front and back, showing its heading) moves in
// rows 0-8 and fires bullets forward (cooldown 5 frames). Every spawn interval (initially 20 frames)
// an enemy enters a random row 1-8 from the left or right, one in three a submarine (which fires
// every 10 frames) and the rest fish; no enemy spawns into a row where one travels the other way.
// Enemies move one cell every move_interval + 1 frames (move_interval initially 5; MinAtar's timing).
// A diver appears every 30 frames and moves every 6 frames; touching one picks it up (at most 6
// carried). Bullets move one cell per frame. +1 per enemy shot.
// Oxygen starts at 200 and falls by 1 per frame below the surface (row 0). Coming up to the surface
// refills the oxygen and costs one diver; with 6 divers it instead pays oxygen * 10 / 200 (integer)
// and empties the sub. With difficulty ramping every successful surfacing lowers the spawn interval
// by 1 (floor 1) and every second one the move interval by 1 (floor 2).
// The episode ends on touching an enemy or enemy bullet, when the oxygen reaches 0, or on surfacing
// with no divers.
// Planes: 0 sub_front, 1 sub_back, 2 friendly_bullet, 3 trail, 4 enemy_bullet, 5 enemy_fish,
// 6 enemy_sub, 7 oxygen_gauge, 8 diver_gauge (both in row 9), 9 diver. All 6 actions are minimal.
#pragma once
#include "envs/minatar/fixed_list.h"
#include "envs/minatar/minatar_env.h"

namespace vkwb::envs {

struct SeaquestBullet {
  int8_t x = 0, y = 0;
  bool moving_right = false;
};

struct SeaquestMover {  // enemy fish, enemy sub or diver
  int8_t x = 0, y = 0;
  bool moving_right = false;
  int8_t move_timer = 0;
  int8_t shot_timer = 0;  // enemy subs only
};

// Capacities bound what the rules can produce (at most one enemy spawn per frame living ~33 frames,
// one player bullet per 5 frames living <= 10); a spawn into a full list is skipped.
struct SeaquestState {
  int8_t sub_x = 5, sub_y = 0;
  bool facing_right = false;
  bool at_surface = true;  // was at the surface last frame: surfacing triggers on arrival only
  int16_t oxygen = 200;
  int8_t divers_carried = 0;
  int16_t enemy_spawn_interval = 20, enemy_spawn_timer = 20;
  int16_t diver_spawn_timer = 30;
  int16_t move_interval = 5;
  int16_t shot_timer = 0;
  int16_t ramp_index = 0;
  FixedList<SeaquestBullet, 8> friendly_bullets;
  FixedList<SeaquestBullet, 64> enemy_bullets;
  FixedList<SeaquestMover, 48> fish;
  FixedList<SeaquestMover, 48> subs;
  FixedList<SeaquestMover, 16> divers;
};

class SeaquestEnv final : public MinAtarEnv {
 public:
  static constexpr int kMaxOxygen = 200;
  static constexpr int kDiverSpawnInterval = 30;
  static constexpr int kShotCooldown = 5;
  static constexpr int kEnemyShotInterval = 10;
  static constexpr int kDiverMoveInterval = 5;
  static constexpr int kMaxDivers = 6;

  explicit SeaquestEnv(const EnvOptions& opts = {});
  SeaquestState& state_for_test() { return s_; }
  const SeaquestState& state() const { return s_; }

 protected:
  void reset_game() override;
  float act(int full_action, bool& terminal) override;
  void write_observation(uint8_t* obs) const override;
  void save_game(StateWriter& w) const override { w.put(s_); }
  void load_game(StateReader& r) override { r.get(s_); }

 private:
  void spawn_enemy();
  void spawn_diver();
  float surface(bool& terminal);
  void move_friendly_bullets(float& reward);
  void move_divers();
  void move_enemies(FixedList<SeaquestMover, 48>& list, bool fires, float& reward, bool& terminal);
  void move_enemy_bullets(bool& terminal);
  bool at_player(int x, int y) const { return x == s_.sub_x && y == s_.sub_y; }
  SeaquestState s_;
};

}  // namespace vkwb::envs
