// Catch: a ball falls from a random column of the top row, one row per step; the agent moves a
// paddle along the bottom row. +1 if the paddle is under the ball when it reaches the bottom row,
// -1 otherwise; the episode ends then (after rows - 1 steps). Tiny and deterministic given the seed:
// the quick sanity env for agents and the vector-env plumbing.
// Planes: 0 ball, 1 paddle. Actions: 0 left, 1 noop, 2 right.
#pragma once
#include "envs/env.h"
#include "envs/rng.h"

namespace vkwb::envs {

struct CatchOptions {
  int rows = 10;
  int cols = 10;
};

class CatchEnv final : public Env {
 public:
  explicit CatchEnv(const CatchOptions& opts = {});

  std::string name() const override { return "catch"; }
  ObsShape observation_shape() const override { return {2, rows_, cols_}; }
  int num_actions() const override { return 3; }
  std::vector<std::string> action_names() const override { return {"left", "noop", "right"}; }
  const uint8_t* reset(uint64_t seed) override;
  StepResult step(int action) override;
  const uint8_t* observation() const override { return obs_.data(); }
  Image render(int cell_pixels = 10) const override;
  std::vector<uint8_t> save_state() const override;
  void load_state(const std::vector<uint8_t>& state) override;

  int ball_x() const { return state_.ball_x; }
  int ball_y() const { return state_.ball_y; }
  int paddle_x() const { return state_.paddle_x; }

 private:
  struct State {
    Rng rng;
    int32_t ball_x = 0, ball_y = 0, paddle_x = 0;
    bool started = false, done = false;
  };
  void write_observation();

  int rows_, cols_;
  State state_;
  std::vector<uint8_t> obs_;
};

}  // namespace vkwb::envs
