#include "envs/grid_world.h"

#include <algorithm>

#include "engine/error.h"
#include "envs/render.h"
#include "envs/state_blob.h"

namespace vkwb::envs {

namespace {
constexpr const char* kStateTag = "gridworld/1";
constexpr int kDx[4] = {0, 1, 0, -1};
constexpr int kDy[4] = {-1, 0, 1, 0};
}  // namespace

GridWorld::GridWorld(GridMap map, const GridWorldOptions& opts) : map_(std::move(map)), opts_(opts) {
  if (!(opts_.slip_prob >= 0.0 && opts_.slip_prob <= 1.0)) {
    throw Error("gridworld: slip_prob must be in [0, 1], got " + std::to_string(opts_.slip_prob));
  }
  if (opts_.max_episode_steps < 0) {
    throw Error("gridworld: max_episode_steps must be >= 0 (0 = default), got " +
                std::to_string(opts_.max_episode_steps));
  }
  int free_cells = 0;
  const int n = num_states();
  const size_t plane = size_t(n);
  obs_.assign(4 * plane, 0);
  for (int s = 0; s < n; ++s) {
    const char c = map_.cells[size_t(s)];
    if (c != '#') ++free_cells;
    if (c == 'S') start_state_ = s;
    if (c == '#') obs_[1 * plane + s] = 1;
    if (c == 'G') obs_[2 * plane + s] = 1;
    if (c == 'P') obs_[3 * plane + s] = 1;
  }
  max_steps_ = opts_.max_episode_steps > 0 ? opts_.max_episode_steps : 4 * free_cells;
  state_.agent = start_state_;
}

int GridWorld::move(int state, int direction) const {
  const int x = state % map_.width + kDx[direction];
  const int y = state / map_.width + kDy[direction];
  if (x < 0 || y < 0 || x >= map_.width || y >= map_.height) return state;
  const int next = y * map_.width + x;
  return is_wall(next) ? state : next;
}

double GridWorld::reward_for(int next_state) const {
  switch (map_.cells[size_t(next_state)]) {
    case 'G': return 1.0;
    case 'P': return -1.0;
    default: return opts_.step_reward;
  }
}

void GridWorld::check_state(int state, const char* what) const {
  if (state < 0 || state >= num_states()) {
    throw Error(std::string("gridworld: ") + what + " " + std::to_string(state) + " is out of range [0, " +
                std::to_string(num_states()) + ")");
  }
}

std::vector<Transition> GridWorld::transitions(int state, int action) const {
  check_state(state, "state");
  if (action < 0 || action >= kNumActions) {
    throw Error("gridworld: action " + std::to_string(action) + " is out of range [0, 4) (up, right, down, left)");
  }
  std::vector<Transition> out;
  if (is_wall(state) || is_terminal(state)) return out;
  auto add = [&](int direction, double p) {
    if (p <= 0.0) return;
    const int next = move(state, direction);
    for (auto& t : out) {
      if (t.next_state == next) {
        t.prob += p;
        return;
      }
    }
    out.push_back({p, next, reward_for(next), is_terminal(next)});
  };
  add(action, 1.0 - opts_.slip_prob);
  add((action + 1) % 4, 0.5 * opts_.slip_prob);
  add((action + 3) % 4, 0.5 * opts_.slip_prob);
  return out;
}

void GridWorld::place_agent(int state) {
  obs_[size_t(state_.agent)] = 0;
  state_.agent = state;
  obs_[size_t(state_.agent)] = 1;
}

const uint8_t* GridWorld::reset(uint64_t seed) {
  state_.rng.reseed(seed);
  state_.steps = 0;
  state_.started = true;
  state_.done = false;
  place_agent(start_state_);
  return observation();
}

StepResult GridWorld::step(int action) {
  if (action < 0 || action >= kNumActions) {
    throw Error("gridworld: action " + std::to_string(action) + " is out of range [0, 4) (up, right, down, left)");
  }
  if (!state_.started || state_.done) {
    throw Error(std::string("gridworld: step() called ") +
                (state_.started ? "after the episode ended" : "before reset()") + "; call reset(seed) first");
  }
  int direction = action;
  // Draw only when slipping is possible so that deterministic maps consume no randomness.
  if (opts_.slip_prob > 0.0 && state_.rng.bernoulli(opts_.slip_prob)) {
    direction = (action + (state_.rng.below(2) ? 1 : 3)) % 4;
  }
  const int next = move(state_.agent, direction);
  place_agent(next);
  ++state_.steps;
  StepResult r;
  r.reward = float(reward_for(next));
  r.terminated = is_terminal(next);
  r.truncated = !r.terminated && state_.steps >= max_steps_;
  state_.done = r.terminated || r.truncated;
  r.observation = observation();
  return r;
}

Image GridWorld::render(int cell_pixels) const {
  static const Rgb colours[] = {{80, 160, 255}, {110, 110, 110}, {60, 200, 90}, {200, 50, 50}};
  return render_planes(obs_.data(), observation_shape(), colours, cell_pixels, {235, 235, 225});
}

std::vector<uint8_t> GridWorld::save_state() const {
  StateWriter w(kStateTag);
  w.put(int32_t(num_states()));
  w.put(state_);
  return w.take();
}

void GridWorld::load_state(const std::vector<uint8_t>& blob) {
  StateReader r(blob, kStateTag);
  int32_t n = 0;
  r.get(n);
  State s;
  r.get(s);
  r.finish();
  if (n != num_states() || s.agent < 0 || s.agent >= n) {
    throw Error("gridworld: load_state got a state for a different map than '" + map_.name + "'");
  }
  place_agent(s.agent);
  state_ = s;
}

}  // namespace vkwb::envs
