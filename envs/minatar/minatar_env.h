// MinAtarEnv: what the five MinAtar-style games (after Young & Tian 2019) share: the 10x10 grid of
// boolean planes, the full action set and each game's minimal subset, sticky actions, the episode
// time limit and the save/load framing. A game implements reset_game(), act() and
// write_observation() on a fixed-size state struct (no heap allocation per step).
//
// Sticky actions: with probability sticky_action_prob the previous executed action is repeated
// instead of the chosen one. The first step of an episode has no previous action, so it always
// executes the chosen action (with probability 1 the first action then repeats forever).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "envs/env.h"
#include "envs/render.h"
#include "envs/rng.h"
#include "envs/state_blob.h"

namespace vkwb::envs {

// The full MinAtar action set, in MinAtar's order.
enum MinAtarAction : int { kNoop = 0, kLeft = 1, kUp = 2, kRight = 3, kDown = 4, kFire = 5 };
inline constexpr int kMinAtarFullActions = 6;

class MinAtarEnv : public Env {
 public:
  static constexpr int kSize = 10;
  static constexpr int kMaxChannels = 10;
  static constexpr int kDefaultMaxEpisodeSteps = 100000;

  std::string name() const override { return "minatar-" + std::string(game_); }
  ObsShape observation_shape() const override { return {channels_, kSize, kSize}; }
  int num_actions() const override { return num_actions_; }
  std::vector<std::string> action_names() const override;
  const uint8_t* reset(uint64_t seed) final;
  StepResult step(int action) final;
  const uint8_t* observation() const override { return obs_; }
  Image render(int cell_pixels = 10) const override;
  std::vector<uint8_t> save_state() const final;
  void load_state(const std::vector<uint8_t>& state) final;

  // The full-set action (MinAtarAction) that action index `action` stands for.
  int full_action(int action) const;
  // Index of a full-set action in this env's action list, or -1 if it is not available.
  int action_index(MinAtarAction a) const;
  int64_t episode_steps() const { return common_.steps; }

  // For scripted tests: recompute observation() after editing a game's state_for_test().
  void refresh_observation();

 protected:
  MinAtarEnv(const char* game, int channels, std::initializer_list<int> minimal_actions,
             std::span<const Rgb> colours, const EnvOptions& opts);

  virtual void reset_game() = 0;
  // One frame with a full-set action; returns the reward and sets terminal when the game is over.
  virtual float act(int full_action, bool& terminal) = 0;
  // obs is zeroed (channels * 100 bytes) before the call.
  virtual void write_observation(uint8_t* obs) const = 0;
  virtual void save_game(StateWriter& w) const = 0;
  virtual void load_game(StateReader& r) = 0;

  // Planes listed first are drawn on top in render(); default 0, 1, 2, ...
  void set_render_order(std::span<const int> order) { render_order_ = order; }
  Rng& rng() { return common_.rng; }
  bool ramping() const { return ramping_; }
  static uint8_t* plane(uint8_t* obs, int c) { return obs + c * kSize * kSize; }
  static void set_cell(uint8_t* obs, int c, int y, int x) { obs[(c * kSize + y) * kSize + x] = 1; }

 private:
  struct Common {
    Rng rng;
    int64_t steps = 0;
    int32_t last_action = -1;  // full-set action executed on the previous step, -1 at episode start
    bool started = false;
    bool done = false;
  };

  const char* game_;
  int channels_;
  int num_actions_;
  int actions_[kMinAtarFullActions];
  std::span<const Rgb> colours_;
  std::span<const int> render_order_;
  double sticky_prob_;
  bool ramping_;
  int64_t max_steps_;
  Common common_;
  uint8_t obs_[kMaxChannels * kSize * kSize] = {};
};

}  // namespace vkwb::envs
