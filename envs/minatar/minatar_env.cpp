#include "envs/minatar/minatar_env.h"

#include <cstring>

#include "engine/error.h"

namespace vkwb::envs {

namespace {
const char* const kActionNames[kMinAtarFullActions] = {"noop", "left", "up", "right", "down", "fire"};
}

MinAtarEnv::MinAtarEnv(const char* game, int channels, std::initializer_list<int> minimal_actions,
                       std::span<const Rgb> colours, const EnvOptions& opts)
    : game_(game),
      channels_(channels),
      colours_(colours),
      sticky_prob_(opts.sticky_action_prob),
      ramping_(opts.difficulty_ramping) {
  if (!(opts.sticky_action_prob >= 0.0 && opts.sticky_action_prob <= 1.0)) {
    throw Error(name() + ": sticky_action_prob must be in [0, 1], got " + std::to_string(opts.sticky_action_prob));
  }
  if (opts.max_episode_steps < 0) {
    throw Error(name() + ": max_episode_steps must be >= 0 (0 = default), got " +
                std::to_string(opts.max_episode_steps));
  }
  max_steps_ = opts.max_episode_steps > 0 ? opts.max_episode_steps : kDefaultMaxEpisodeSteps;
  if (opts.full_action_set) {
    num_actions_ = kMinAtarFullActions;
    for (int a = 0; a < kMinAtarFullActions; ++a) actions_[a] = a;
  } else {
    num_actions_ = 0;
    for (int a : minimal_actions) actions_[num_actions_++] = a;
  }
}

std::vector<std::string> MinAtarEnv::action_names() const {
  std::vector<std::string> names;
  for (int i = 0; i < num_actions_; ++i) names.emplace_back(kActionNames[actions_[i]]);
  return names;
}

int MinAtarEnv::full_action(int action) const {
  if (action < 0 || action >= num_actions_) {
    std::string list;
    for (int i = 0; i < num_actions_; ++i) list += (i ? ", " : "") + std::to_string(i) + " " + kActionNames[actions_[i]];
    throw Error(name() + ": action " + std::to_string(action) + " is out of range [0, " + std::to_string(num_actions_) +
                ") (" + list + ")");
  }
  return actions_[action];
}

int MinAtarEnv::action_index(MinAtarAction a) const {
  for (int i = 0; i < num_actions_; ++i)
    if (actions_[i] == a) return i;
  return -1;
}

const uint8_t* MinAtarEnv::reset(uint64_t seed) {
  common_ = Common{};
  common_.rng.reseed(seed);
  common_.started = true;
  reset_game();
  refresh_observation();
  return observation();
}

StepResult MinAtarEnv::step(int action) {
  int a = full_action(action);
  if (!common_.started || common_.done) {
    throw Error(name() + ": step() called " + (common_.started ? "after the episode ended" : "before reset()") +
                "; call reset(seed) first");
  }
  if (sticky_prob_ > 0.0 && common_.last_action >= 0 && common_.rng.bernoulli(sticky_prob_)) a = common_.last_action;
  common_.last_action = a;
  StepResult r;
  bool terminal = false;
  r.reward = act(a, terminal);
  ++common_.steps;
  r.terminated = terminal;
  r.truncated = !terminal && common_.steps >= max_steps_;
  common_.done = r.terminated || r.truncated;
  refresh_observation();
  r.observation = observation();
  return r;
}

void MinAtarEnv::refresh_observation() {
  std::memset(obs_, 0, size_t(channels_) * kSize * kSize);
  write_observation(obs_);
}

Image MinAtarEnv::render(int cell_pixels) const {
  return render_planes(obs_, observation_shape(), colours_, cell_pixels, {0, 0, 0}, render_order_);
}

std::vector<uint8_t> MinAtarEnv::save_state() const {
  StateWriter w(name() + "/1");
  w.put(common_);
  save_game(w);
  return w.take();
}

void MinAtarEnv::load_state(const std::vector<uint8_t>& blob) {
  const std::string tag = name() + "/1";
  // load_game() writes into the live game state, so a malformed blob must not leave it half-loaded.
  const std::vector<uint8_t> backup = save_state();
  auto load = [&](const std::vector<uint8_t>& b) {
    StateReader r(b, tag);
    Common c;
    r.get(c);
    load_game(r);
    r.finish();
    common_ = c;
  };
  try {
    load(blob);
  } catch (...) {
    load(backup);
    throw;
  }
  refresh_observation();
}

}  // namespace vkwb::envs
