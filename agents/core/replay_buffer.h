// Replay buffers for DQN-style agents: a uniform ring (ReplayBuffer) and proportional prioritized
// replay on top of it (PrioritizedReplayBuffer, Schaul et al. 2016). Observations are uint8 arrays
// of a fixed shape (e.g. C, H, W); everything is preallocated, and sampling writes into a
// caller-owned ReplayBatch so the training loop does not allocate.
//
// Storage: one stream of observation slots, as in Dopamine and SB3's memory-optimised buffer.
// Slot i holds obs_t with action, reward and flags of transition t, and its next observation is the
// obs of slot i + 1, so each observation is stored once rather than twice. Two kinds of slot are
// not transitions and are never sampled:
//   * the slot at the write cursor holds the next_obs of the newest transition (the obs of the
//     transition still to come);
//   * when an episode ends (terminated or truncated), the slot after its last transition keeps the
//     final observation, and the next episode starts one slot further on. So `final_observation` is
//     exact at every episode end, and each episode end costs one slot.
// An add() whose obs differs from the previous transition's next_obs is treated as the start of a
// new episode even if neither flag was set (the previous transition is then marked truncated), so a
// caller that forgets `truncated` gets correct 1-step data and n-step returns that stop there.
// One buffer holds one environment's stream; vectorised environments need one buffer per
// environment (or an interleaving-aware buffer, not written yet).
//
// n-step returns: a sample from slot t yields R = sum_{k<K} gamma^k r_{t+k}, next_obs = obs_{t+K},
// discount = gamma^K and done = 1 if the episode terminated at step t+K-1, where K = n except at
// an episode end (K is shorter, never crossing it) and for the newest K < n transitions (whose
// later steps have not happened yet; they bootstrap from the newest observation instead of being
// held back). DQN's target is then  R + discount * (1 - done) * max_a Q(next_obs, a).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "agents/core/sum_tree.h"
#include "nets/data/host_rng.h"
#include "nets/io/checkpoint_file.h"

namespace vkwb::rl {

struct ReplayOptions {
  // Transitions held when no episode ends; one slot more per episode end held (see above).
  int64_t capacity = 100000;
  std::vector<int64_t> obs_shape;  // e.g. {C, H, W}
  int n_step = 1;
  float gamma = 0.99f;
};

struct ReplayBatch {
  int size = 0;
  std::vector<uint8_t> obs, next_obs;  // [size, obs_shape...]
  std::vector<int32_t> action;
  std::vector<float> reward;    // n-step discounted return
  std::vector<float> done;      // 1: terminated within the n steps, do not bootstrap
  std::vector<float> discount;  // gamma^K actually applied
  std::vector<float> weight;    // importance-sampling weights (all 1 for uniform replay)
  std::vector<int64_t> index;   // slot of each sample, for update_priorities
  // Sizes every array; allocates only when the batch or observation size grows.
  void resize(int batch, size_t obs_size);
};

class ReplayBuffer {
 public:
  explicit ReplayBuffer(const ReplayOptions& opt);

  // Stores one transition and returns its slot. `terminated`: the episode ended in a terminal
  // state (no bootstrap). `truncated`: it was cut off (time limit); next_obs is the final
  // observation and is bootstrapped from.
  int64_t add(const uint8_t* obs, int32_t action, float reward, const uint8_t* next_obs,
              bool terminated, bool truncated = false);
  int64_t add(std::span<const uint8_t> obs, int32_t action, float reward,
              std::span<const uint8_t> next_obs, bool terminated, bool truncated = false);

  // Uniform over the stored transitions, with replacement.
  void sample(int batch_size, HostRng& rng, ReplayBatch& out) const;
  // Writes the (n-step) transition at `slot` into row `row` of `out` (weight left untouched).
  void gather(int64_t slot, ReplayBatch& out, int row) const;

  bool is_valid(int64_t slot) const;
  int64_t size() const { return num_valid_; }  // transitions that can be sampled
  int64_t capacity() const { return opt_.capacity; }
  int64_t num_slots() const { return num_slots_; }
  int64_t num_added() const { return num_added_; }  // transitions ever added
  size_t obs_size() const { return obs_size_; }
  const ReplayOptions& options() const { return opt_; }

  // Whole state into/from checkpoint blobs named <prefix>obs, <prefix>action, ... and
  // meta[<prefix>state]. Capacity and observation shape must match on load; n_step and gamma may
  // differ (transitions are stored as single steps).
  void save(io::CheckpointData& ckpt, const std::string& prefix = "replay/") const;
  void load(const io::CheckpointData& ckpt, const std::string& prefix = "replay/");

 private:
  void write_obs(int64_t slot, const uint8_t* obs);
  void invalidate(int64_t slot);
  const uint8_t* obs_at(int64_t slot) const { return obs_.data() + static_cast<size_t>(slot) * obs_size_; }

  ReplayOptions opt_;
  size_t obs_size_ = 0;
  int64_t num_slots_ = 0;
  std::vector<uint8_t> obs_;
  std::vector<int32_t> action_;
  std::vector<float> reward_;
  std::vector<uint8_t> flags_;
  int64_t cursor_ = 0;      // slot holding the newest transition's next_obs
  int64_t filled_ = 0;      // slots written at least once
  int64_t num_valid_ = 0;
  int64_t num_added_ = 0;
  bool last_ended_ = true;  // the newest transition ended its episode (true before any add)
};

struct PrioritizedOptions {
  double alpha = 0.6;              // priority exponent: P(i) = p_i^alpha / sum_k p_k^alpha
  double beta0 = 0.4;              // importance-sampling exponent at step 0 ...
  int64_t beta_steps = 100000;     // ... annealed linearly to 1 over this many steps
  double epsilon = 1e-6;           // p_i = |td_error| + epsilon, so no transition starves
};

class PrioritizedReplayBuffer {
 public:
  PrioritizedReplayBuffer(const ReplayOptions& opt, const PrioritizedOptions& popt);

  // New transitions get the largest priority seen so far, so each is replayed at least once soon.
  int64_t add(const uint8_t* obs, int32_t action, float reward, const uint8_t* next_obs,
              bool terminated, bool truncated = false);
  int64_t add(std::span<const uint8_t> obs, int32_t action, float reward,
              std::span<const uint8_t> next_obs, bool terminated, bool truncated = false);

  // Stratified: the priority mass is cut into batch_size equal segments and one transition drawn
  // from each. weight = (N * P(i))^-beta(step), divided by the largest weight in the batch so
  // weights only scale updates down.
  void sample(int batch_size, HostRng& rng, ReplayBatch& out, int64_t step) const;
  // p_i = |td_error_i| + epsilon. Indices no longer holding a transition (overwritten since they
  // were sampled) are skipped.
  void update_priorities(std::span<const int64_t> indices, std::span<const float> td_errors);

  double beta(int64_t step) const;
  double probability(int64_t slot) const;  // current P(slot)
  int64_t size() const { return buffer_.size(); }
  const ReplayBuffer& buffer() const { return buffer_; }
  const SumTree& tree() const { return tree_; }
  double max_priority() const { return max_priority_; }

  void save(io::CheckpointData& ckpt, const std::string& prefix = "replay/") const;
  void load(const io::CheckpointData& ckpt, const std::string& prefix = "replay/");

 private:
  void after_add(int64_t slot);

  ReplayBuffer buffer_;
  PrioritizedOptions popt_;
  SumTree tree_;
  double max_priority_ = 1.0;  // largest |td| + epsilon so far, before the alpha exponent
};

}  // namespace vkwb::rl
