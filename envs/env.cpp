#include "envs/env.h"

#include "engine/error.h"
#include "envs/catch_env.h"
#include "envs/grid_world.h"
#include "envs/minatar/asterix.h"
#include "envs/minatar/breakout.h"
#include "envs/minatar/freeway.h"
#include "envs/minatar/seaquest.h"
#include "envs/minatar/space_invaders.h"

namespace vkwb::envs {

void Env::observation_float(float* out) const {
  const uint8_t* obs = observation();
  const size_t n = observation_shape().size();
  for (size_t i = 0; i < n; ++i) out[i] = float(obs[i]);
}

namespace {

constexpr const char* kDefaultGridMap = "empty5";

std::string valid_names() {
  std::string list;
  for (const auto& n : env_names()) list += (list.empty() ? "" : ", ") + n;
  return list + ", gridworld:<map file>";
}

}  // namespace

std::vector<std::string> env_names() {
  std::vector<std::string> names = {"catch", "gridworld"};
  for (const auto& m : builtin_grid_maps()) names.push_back("gridworld:" + m);
  for (const char* g : {"breakout", "freeway", "asterix", "seaquest", "space_invaders"})
    names.push_back(std::string("minatar-") + g);
  return names;
}

std::unique_ptr<Env> make_env(const std::string& name, const EnvOptions& opts) {
  if (name == "catch") {
    if (opts.max_episode_steps < 0) throw Error("catch: max_episode_steps must be >= 0");
    return std::make_unique<CatchEnv>();
  }
  if (name == "gridworld" || name.starts_with("gridworld:")) {
    std::string map = name.size() > 10 ? name.substr(10) : opts.map;
    if (map.empty()) map = kDefaultGridMap;
    GridWorldOptions g;
    g.step_reward = opts.step_reward;
    g.slip_prob = opts.slip_prob;
    g.max_episode_steps = opts.max_episode_steps;
    return std::make_unique<GridWorld>(load_grid_map(map), g);
  }
  if (name == "minatar-breakout") return std::make_unique<BreakoutEnv>(opts);
  if (name == "minatar-freeway") return std::make_unique<FreewayEnv>(opts);
  if (name == "minatar-asterix") return std::make_unique<AsterixEnv>(opts);
  if (name == "minatar-seaquest") return std::make_unique<SeaquestEnv>(opts);
  if (name == "minatar-space_invaders") return std::make_unique<SpaceInvadersEnv>(opts);
  throw Error("unknown environment '" + name + "'; valid names: " + valid_names());
}

}  // namespace vkwb::envs
