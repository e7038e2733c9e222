#include "envs/minatar/seaquest.h"

#include <algorithm>

namespace vkwb::envs {

namespace {
const Rgb kColours[] = {{250, 220, 60},  {200, 170, 40},  {255, 255, 255}, {90, 90, 110},  {255, 120, 200},
                        {220, 60, 60},   {160, 40, 200},  {60, 200, 230},  {60, 200, 90},  {120, 255, 140}};
// Trails come early in the plane order but must not hide objects; the gauges share row 9.
const int kRenderOrder[] = {0, 1, 2, 4, 5, 6, 9, 3, 8, 7};
int step_x(bool moving_right) { return moving_right ? 1 : -1; }
bool outside(int x) { return x < 0 || x > 9; }
}  // namespace

SeaquestEnv::SeaquestEnv(const EnvOptions& opts)
    : MinAtarEnv("seaquest", 10, {kNoop, kLeft, kUp, kRight, kDown, kFire}, kColours, opts) {
  set_render_order(kRenderOrder);
}

void SeaquestEnv::reset_game() { s_ = SeaquestState{}; }

void SeaquestEnv::spawn_enemy() {
  const bool from_left = rng().below(2) == 0;
  const bool is_sub = rng().below(3) == 0;
  const int8_t y = int8_t(1 + rng().below(8));
  // Opposite traffic in one row would let enemies pass through each other.
  for (const auto& e : s_.subs)
    if (e.y == y && e.moving_right != from_left) return;
  for (const auto& e : s_.fish)
    if (e.y == y && e.moving_right != from_left) return;
  SeaquestMover m;
  m.x = int8_t(from_left ? 0 : 9);
  m.y = y;
  m.moving_right = from_left;
  m.move_timer = int8_t(s_.move_interval);
  m.shot_timer = is_sub ? int8_t(kEnemyShotInterval) : int8_t(0);
  (is_sub ? s_.subs : s_.fish).push_back(m);
}

void SeaquestEnv::spawn_diver() {
  const bool from_left = rng().below(2) == 0;
  SeaquestMover d;
  d.x = int8_t(from_left ? 0 : 9);
  d.y = int8_t(1 + rng().below(8));
  d.moving_right = from_left;
  d.move_timer = kDiverMoveInterval;
  s_.divers.push_back(d);
}

void SeaquestEnv::move_friendly_bullets(float& reward) {
  auto& bullets = s_.friendly_bullets;
  for (int i = bullets.size() - 1; i >= 0; --i) {
    SeaquestBullet& b = bullets[i];
    b.x = int8_t(b.x + step_x(b.moving_right));
    if (outside(b.x)) {
      bullets.remove_at(i);
      continue;
    }
    bool hit = false;
    for (auto* list : {&s_.fish, &s_.subs}) {
      for (int j = 0; j < list->size() && !hit; ++j) {
        if ((*list)[j].x == b.x && (*list)[j].y == b.y) {
          list->remove_at(j);
          hit = true;
        }
      }
      if (hit) break;
    }
    if (hit) {
      bullets.remove_at(i);
      reward += 1.0f;
    }
  }
}

void SeaquestEnv::move_divers() {
  auto& divers = s_.divers;
  for (int i = divers.size() - 1; i >= 0; --i) {
    SeaquestMover& d = divers[i];
    bool picked = at_player(d.x, d.y) && s_.divers_carried < kMaxDivers;
    if (!picked) {
      if (d.move_timer == 0) {
        d.move_timer = kDiverMoveInterval;
        d.x = int8_t(d.x + step_x(d.moving_right));
        if (outside(d.x)) {
          divers.remove_at(i);
          continue;
        }
        picked = at_player(d.x, d.y) && s_.divers_carried < kMaxDivers;
      } else {
        --d.move_timer;
      }
    }
    if (picked) {
      divers.remove_at(i);
      ++s_.divers_carried;
    }
  }
}

void SeaquestEnv::move_enemies(FixedList<SeaquestMover, 48>& list, bool fires, float& reward, bool& terminal) {
  for (int i = list.size() - 1; i >= 0; --i) {
    SeaquestMover& e = list[i];
    if (at_player(e.x, e.y)) terminal = true;
    if (e.move_timer == 0) {
      e.move_timer = int8_t(s_.move_interval);
      e.x = int8_t(e.x + step_x(e.moving_right));
      if (outside(e.x)) {
        list.remove_at(i);
        continue;
      }
      if (at_player(e.x, e.y)) {
        terminal = true;
      } else {
        // An enemy moving onto a bullet that already moved this frame is still shot.
        bool shot = false;
        auto& bullets = s_.friendly_bullets;
        for (int j = 0; j < bullets.size(); ++j) {
          if (bullets[j].x == e.x && bullets[j].y == e.y) {
            bullets.remove_at(j);
            shot = true;
            break;
          }
        }
        if (shot) {
          list.remove_at(i);
          reward += 1.0f;
          continue;
        }
      }
    } else {
      --e.move_timer;
    }
    if (fires) {
      if (e.shot_timer == 0) {
        // The timer skips the firing frame itself, so this gives one shot every 10 frames.
        e.shot_timer = kEnemyShotInterval - 1;
        s_.enemy_bullets.push_back({e.x, e.y, e.moving_right});
      } else {
        --e.shot_timer;
      }
    }
  }
}

void SeaquestEnv::move_enemy_bullets(bool& terminal) {
  auto& bullets = s_.enemy_bullets;
  for (int i = bullets.size() - 1; i >= 0; --i) {
    SeaquestBullet& b = bullets[i];
    if (at_player(b.x, b.y)) terminal = true;
    b.x = int8_t(b.x + step_x(b.moving_right));
    if (outside(b.x)) {
      bullets.remove_at(i);
    } else if (at_player(b.x, b.y)) {
      terminal = true;
    }
  }
}

float SeaquestEnv::surface(bool& terminal) {
  s_.at_surface = true;
  if (s_.divers_carried == 0) {
    terminal = true;
    return 0.0f;
  }
  float reward = 0.0f;
  if (s_.divers_carried == kMaxDivers) {
    reward = float(s_.oxygen * 10 / kMaxOxygen);
    s_.divers_carried = 0;
  } else {
    --s_.divers_carried;
  }
  s_.oxygen = kMaxOxygen;
  if (ramping() && (s_.enemy_spawn_interval > 1 || s_.move_interval > 2)) {
    if (s_.move_interval > 2 && s_.ramp_index % 2 == 1) --s_.move_interval;
    if (s_.enemy_spawn_interval > 1) --s_.enemy_spawn_interval;
    ++s_.ramp_index;
  }
  return reward;
}

float SeaquestEnv::act(int a, bool& terminal) {
  float reward = 0.0f;
  if (s_.enemy_spawn_timer == 0) {
    spawn_enemy();
    s_.enemy_spawn_timer = s_.enemy_spawn_interval;
  }
  if (s_.diver_spawn_timer == 0) {
    spawn_diver();
    s_.diver_spawn_timer = kDiverSpawnInterval;
  }
  if (a == kFire) {
    if (s_.shot_timer == 0) {
      s_.friendly_bullets.push_back({s_.sub_x, s_.sub_y, s_.facing_right});
      s_.shot_timer = kShotCooldown;
    }
  } else if (a == kLeft) {
    s_.sub_x = int8_t(std::max(0, s_.sub_x - 1));
    s_.facing_right = false;
  } else if (a == kRight) {
    s_.sub_x = int8_t(std::min(9, s_.sub_x + 1));
    s_.facing_right = true;
  } else if (a == kUp) {
    s_.sub_y = int8_t(std::max(0, s_.sub_y - 1));
  } else if (a == kDown) {
    s_.sub_y = int8_t(std::min(8, s_.sub_y + 1));
  }

  move_friendly_bullets(reward);
  move_divers();
  move_enemies(s_.subs, true, reward, terminal);
  move_enemy_bullets(terminal);
  move_enemies(s_.fish, false, reward, terminal);

  if (s_.enemy_spawn_timer > 0) --s_.enemy_spawn_timer;
  if (s_.diver_spawn_timer > 0) --s_.diver_spawn_timer;
  if (s_.shot_timer > 0) --s_.shot_timer;
  if (s_.sub_y > 0) {
    s_.at_surface = false;
    if (--s_.oxygen <= 0) terminal = true;
  } else if (!s_.at_surface) {
    reward += surface(terminal);
  }
  return reward;
}

void SeaquestEnv::write_observation(uint8_t* obs) const {
  set_cell(obs, 0, s_.sub_y, s_.sub_x);
  set_cell(obs, 1, s_.sub_y, std::clamp(s_.sub_x + (s_.facing_right ? -1 : 1), 0, 9));
  const int oxygen_cells = std::max(0, s_.oxygen * 10 / kMaxOxygen);
  for (int x = 0; x < oxygen_cells; ++x) set_cell(obs, 7, 9, x);
  for (int x = 9 - s_.divers_carried; x < 9; ++x) set_cell(obs, 8, 9, x);
  for (const auto& b : s_.friendly_bullets) set_cell(obs, 2, b.y, b.x);
  for (const auto& b : s_.enemy_bullets) set_cell(obs, 4, b.y, b.x);
  auto mover = [&](const SeaquestMover& m, int c) {
    set_cell(obs, c, m.y, m.x);
    const int back = m.x - step_x(m.moving_right);
    if (!outside(back)) set_cell(obs, 3, m.y, back);
  };
  for (const auto& f : s_.fish) mover(f, 5);
  for (const auto& e : s_.subs) mover(e, 6);
  for (const auto& d : s_.divers) mover(d, 9);
}

}  // namespace vkwb::envs
