#include "envs/vector_env.h"

#include <cstring>

#include "engine/error.h"
#include "envs/rng.h"

namespace vkwb::envs {

namespace {
std::vector<std::unique_ptr<Env>> make_copies(const std::string& name, int n, const EnvOptions& opts) {
  if (n < 1) throw Error("vector env: need at least 1 copy of '" + name + "', got " + std::to_string(n));
  std::vector<std::unique_ptr<Env>> envs;
  envs.reserve(size_t(n));
  for (int i = 0; i < n; ++i) envs.push_back(make_env(name, opts));
  return envs;
}
}  // namespace

VectorEnv::VectorEnv(const std::string& name, int num_envs, const EnvOptions& opts)
    : VectorEnv(make_copies(name, num_envs, opts)) {}

VectorEnv::VectorEnv(std::vector<std::unique_ptr<Env>> envs) : envs_(std::move(envs)) {
  if (envs_.empty()) throw Error("vector env: need at least 1 environment");
  name_ = envs_[0]->name();
  shape_ = envs_[0]->observation_shape();
  num_actions_ = envs_[0]->num_actions();
  for (const auto& e : envs_) {
    if (e->name() != name_ || !(e->observation_shape() == shape_) || e->num_actions() != num_actions_) {
      throw Error("vector env: all copies must be the same environment ('" + name_ + "' vs '" + e->name() + "')");
    }
  }
  const size_t n = envs_.size();
  obs_.assign(n * shape_.size(), 0);
  final_obs_.assign(n * shape_.size(), 0);
  finished_.assign(n, 0);
  episode_index_.assign(n, 0);
  running_return_.assign(n, 0.0);
  running_length_.assign(n, 0);
  last_episode_.assign(n, EpisodeSummary{});
}

void VectorEnv::copy_observation(int i) {
  std::memcpy(obs_.data() + size_t(i) * shape_.size(), envs_[size_t(i)]->observation(), shape_.size());
}

void VectorEnv::reset_copy(int i) {
  const uint64_t copy_seed = derive_seed(seed_, uint64_t(i));
  envs_[size_t(i)]->reset(derive_seed(copy_seed, episode_index_[size_t(i)]));
  running_return_[size_t(i)] = 0.0;
  running_length_[size_t(i)] = 0;
  copy_observation(i);
}

void VectorEnv::reset(uint64_t seed) {
  seed_ = seed;
  started_ = true;
  for (int i = 0; i < num_envs(); ++i) {
    episode_index_[size_t(i)] = 0;
    finished_[size_t(i)] = 0;
    last_episode_[size_t(i)] = EpisodeSummary{};
    reset_copy(i);
  }
  episodes_finished_ = 0;
}

void VectorEnv::step(const int* actions, StepResult* out) {
  if (!started_) throw Error("vector env '" + name_ + "': step() called before reset(seed)");
  // Reject bad actions before any copy moves, so an error leaves all copies in step.
  for (int i = 0; i < num_envs(); ++i) {
    if (actions[i] < 0 || actions[i] >= num_actions_) {
      throw Error("vector env '" + name_ + "': action " + std::to_string(actions[i]) + " for copy " +
                  std::to_string(i) + " is out of range [0, " + std::to_string(num_actions_) + ")");
    }
  }
  for (int i = 0; i < num_envs(); ++i) {
    Env& env = *envs_[size_t(i)];
    const StepResult r = env.step(actions[i]);
    out[i] = r;
    running_return_[size_t(i)] += r.reward;
    ++running_length_[size_t(i)];
    finished_[size_t(i)] = r.done();
    if (r.done()) {
      std::memcpy(final_obs_.data() + size_t(i) * shape_.size(), env.observation(), shape_.size());
      last_episode_[size_t(i)] = {running_return_[size_t(i)], running_length_[size_t(i)]};
      ++episodes_finished_;
      ++episode_index_[size_t(i)];
      reset_copy(i);
    } else {
      copy_observation(i);
    }
  }
}

const uint8_t* VectorEnv::final_observation(int i) const {
  if (i < 0 || i >= num_envs()) {
    throw Error("vector env: copy " + std::to_string(i) + " out of range [0, " + std::to_string(num_envs()) + ")");
  }
  const auto& buf = finished_[size_t(i)] ? final_obs_ : obs_;
  return buf.data() + size_t(i) * shape_.size();
}

}  // namespace vkwb::envs
