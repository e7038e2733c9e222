// GridWorld: an agent walks on an ASCII map (see grid_map.h) to reach a goal while avoiding pits.
// Actions 0 up, 1 right, 2 down, 3 left. Entering a goal gives +1, a pit -1, and ends the episode;
// any other step (including bumping into a wall, which leaves the agent in place) gives
// step_reward. With slip_prob > 0 a move goes in one of the two perpendicular directions instead,
// each with probability slip_prob / 2.
// Planes: 0 agent, 1 wall, 2 goal, 3 pit.
// The MDP is exposed for planning: states are cell indices y * width + x (walls included, so a state
// maps straight to a cell); transitions(s, a) is exactly the distribution step() samples from.
#pragma once
#include "envs/env.h"
#include "envs/grid_map.h"
#include "envs/rng.h"

namespace vkwb::envs {

struct GridWorldOptions {
  double step_reward = -0.01;
  double slip_prob = 0.0;
  int max_episode_steps = 0;  // 0: 4 x the number of non-wall cells
};

struct Transition {
  double prob;
  int next_state;
  double reward;
  bool done;  // next_state is terminal (goal or pit)
};

class GridWorld final : public Env {
 public:
  enum Action { kUp = 0, kRight = 1, kDown = 2, kLeft = 3 };
  static constexpr int kNumActions = 4;

  GridWorld(GridMap map, const GridWorldOptions& opts = {});

  std::string name() const override { return "gridworld:" + map_.name; }
  ObsShape observation_shape() const override { return {4, map_.height, map_.width}; }
  int num_actions() const override { return kNumActions; }
  std::vector<std::string> action_names() const override { return {"up", "right", "down", "left"}; }
  const uint8_t* reset(uint64_t seed) override;
  StepResult step(int action) override;
  const uint8_t* observation() const override { return obs_.data(); }
  Image render(int cell_pixels = 10) const override;
  std::vector<uint8_t> save_state() const override;
  void load_state(const std::vector<uint8_t>& state) override;

  // The MDP.
  const GridMap& map() const { return map_; }
  int num_states() const { return map_.width * map_.height; }
  int start_state() const { return start_state_; }
  int agent_state() const { return state_.agent; }
  bool is_wall(int s) const { return map_.cells[size_t(s)] == '#'; }
  bool is_terminal(int s) const { return map_.cells[size_t(s)] == 'G' || map_.cells[size_t(s)] == 'P'; }
  // Walls and terminal states take no decisions: they have no transitions (empty vector).
  std::vector<Transition> transitions(int state, int action) const;
  int max_episode_steps() const { return max_steps_; }
  const GridWorldOptions& options() const { return opts_; }

 private:
  struct State {
    Rng rng;
    int32_t agent = 0;
    int32_t steps = 0;
    bool started = false, done = false;
  };
  int move(int state, int direction) const;
  double reward_for(int next_state) const;
  void check_state(int state, const char* what) const;
  void place_agent(int state);

  GridMap map_;
  GridWorldOptions opts_;
  int start_state_ = 0;
  int max_steps_ = 0;
  State state_;
  std::vector<uint8_t> obs_;
};

}  // namespace vkwb::envs
