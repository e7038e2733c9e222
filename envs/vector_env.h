// VectorEnv: N copies of one environment stepped together, observations packed as uint8
// [N, C, H, W]. A copy whose episode ends is reset at once, so observations() always holds
// observations an agent can act on; the observation that ended the episode stays available through
// final_observation(i) for bootstrapping truncated episodes.
//
// Single-threaded today. Callers see only flat arrays in and out (actions, results, observations)
// and never the Env objects, so a multi-threaded or multi-process implementation can replace this
// one behind the same interface.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "envs/env.h"

namespace vkwb::envs {

struct EpisodeSummary {
  double episode_return = 0.0;  // undiscounted sum of rewards
  int64_t length = 0;           // steps
};

class VectorEnv {
 public:
  VectorEnv(const std::string& name, int num_envs, const EnvOptions& opts = {});
  // All copies must have the same name, observation shape and action count.
  explicit VectorEnv(std::vector<std::unique_ptr<Env>> envs);

  int num_envs() const { return int(envs_.size()); }
  ObsShape observation_shape() const { return shape_; }
  size_t observation_size() const { return shape_.size(); }
  int num_actions() const { return num_actions_; }
  const std::string& env_name() const { return name_; }

  // Copy i starts from a seed derived from (seed, i); its k-th automatic reset from (seed, i, k),
  // so every episode of every copy is reproducible from the one seed.
  void reset(uint64_t seed);
  // actions[num_envs()] in, out[num_envs()] out. Copies that finish are reset before returning.
  void step(const int* actions, StepResult* out);

  // num_envs() * observation_size() bytes, [N, C, H, W].
  const uint8_t* observations() const { return obs_.data(); }
  // If the last step() ended copy i's episode: the observation of that episode's last state.
  // Otherwise the same as copy i's current observation.
  const uint8_t* final_observation(int i) const;
  bool just_finished(int i) const { return finished_[size_t(i)] != 0; }
  // The most recently finished episode of copy i (zeros before the first one finishes).
  EpisodeSummary last_episode(int i) const { return last_episode_[size_t(i)]; }
  int64_t episodes_finished() const { return episodes_finished_; }

 private:
  void reset_copy(int i);
  void copy_observation(int i);

  std::vector<std::unique_ptr<Env>> envs_;
  std::string name_;
  ObsShape shape_;
  int num_actions_ = 0;
  uint64_t seed_ = 0;
  bool started_ = false;
  std::vector<uint8_t> obs_, final_obs_;
  std::vector<uint8_t> finished_;
  std::vector<uint64_t> episode_index_;
  std::vector<double> running_return_;
  std::vector<int64_t> running_length_;
  std::vector<EpisodeSummary> last_episode_;
  int64_t episodes_finished_ = 0;
};

}  // namespace vkwb::envs
