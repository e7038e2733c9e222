// Env: the interface every environment implements, plus make_env() to build one by name.
// Observations are plain uint8 planes (no tensors): envs/ knows nothing of the engine, so games stay
// fast, testable and usable from any trainer. Layout is planes-first, row-major:
//   obs[(c * h + y) * w + x], one plane per object kind, values 0/1 for the MinAtar games.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vkwb::envs {

struct ObsShape {
  int c = 0, h = 0, w = 0;
  size_t size() const { return size_t(c) * size_t(h) * size_t(w); }
  bool operator==(const ObsShape&) const = default;
};

// terminated: the MDP reached a terminal state (do not bootstrap).
// truncated: the episode was cut by a time limit (bootstrap from the final observation).
// observation: the new observation (Env::observation(), valid until the next step/reset/load_state).
struct StepResult {
  float reward = 0.0f;
  bool terminated = false;
  bool truncated = false;
  const uint8_t* observation = nullptr;
  bool done() const { return terminated || truncated; }
};

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // 3 bytes per pixel, row-major, top row first
};

class Env {
 public:
  virtual ~Env() = default;
  virtual std::string name() const = 0;
  virtual ObsShape observation_shape() const = 0;
  virtual int num_actions() const = 0;  // the minimal action set unless EnvOptions::full_action_set
  virtual std::vector<std::string> action_names() const = 0;
  // Starts a new episode and returns its first observation (= observation()); the episode is a
  // deterministic function of the seed and the actions.
  virtual const uint8_t* reset(uint64_t seed) = 0;
  // Throws vkwb::Error on an out-of-range action or when called after the episode ended.
  virtual StepResult step(int action) = 0;
  // observation_shape().size() bytes, valid until the next step/reset/load_state.
  virtual const uint8_t* observation() const = 0;
  void observation_float(float* out) const;
  virtual Image render(int cell_pixels = 10) const = 0;
  // Full state including the RNG: load_state(save_state()) followed by the same actions gives the
  // same trajectory.
  virtual std::vector<uint8_t> save_state() const = 0;
  virtual void load_state(const std::vector<uint8_t>& state) = 0;
};

struct EnvOptions {
  // MinAtar games only: probability that the previous action is repeated instead of the chosen one.
  double sticky_action_prob = 0.1;
  // MinAtar games only (Asterix, Seaquest, Space Invaders): speed up as the episode goes on.
  bool difficulty_ramping = true;
  // MinAtar games only: expose all 6 actions [noop, left, up, right, down, fire].
  bool full_action_set = false;
  // Truncate episodes after this many steps; 0 = the env's default (MinAtar: 100000, a safety net
  // for agents that loop forever; GridWorld: 4 x the number of non-wall cells; Catch: none needed).
  int max_episode_steps = 0;
  // GridWorld: built-in map name or path of a map file (see grid_world.h); "gridworld:<map>" also works.
  std::string map;
  // GridWorld: probability that a move goes in a random perpendicular direction instead.
  double slip_prob = 0.0;
  // GridWorld: reward for every step that does not enter a goal or pit. Slightly negative so that
  // shorter paths are better even without discounting.
  double step_reward = -0.01;
};

// Throws vkwb::Error naming the valid environments if the name is unknown.
std::unique_ptr<Env> make_env(const std::string& name, const EnvOptions& opts = {});

// "catch", "gridworld", "gridworld:<map>" for each built-in map, and the five "minatar-*" games.
std::vector<std::string> env_names();

}  // namespace vkwb::envs
