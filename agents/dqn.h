// Dqn: the learner. Online and target Q-networks, the optimizer, the replay buffer and the update
// step (Mnih et al. 2015), with Double DQN, dueling heads, n-step returns and prioritized replay as
// DqnConfig flags. The frame loop that drives it (act -> store -> train_step) is run_dqn in
// agents/dqn_run.h; train_step reads top to bottom as sample -> target -> loss -> step -> sync.
//
// train_step only records kernels (with the TD target on the host, it submits the online forward
// before computing the target, so that the device runs while the host works). The host waits for
// the device only to act greedily (the host copy of the online weights is refreshed lazily, right
// before it is used), after target syncs when the TD target is computed on the host (target_net),
// for prioritized replay's new priorities, and when statistics are read.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agents/core/replay_buffer.h"
#include "agents/dqn_config.h"
#include "agents/q_network.h"
#include "nets/data/host_rng.h"
#include "nets/io/checkpoint_file.h"
#include "nets/optim.h"
#include "nets/parallel.h"

namespace vkwb::agents {

struct DqnStats {
  double loss = 0.0;     // mean training loss over the window (NaN without updates)
  double q_mean = 0.0;   // mean Q(s, a) of the sampled batches
  int64_t updates = 0;   // updates in the window
};

// What target_net = auto means on `dev`: host on a CPU driver (lavapipe) or the CPU backend, where
// the update runs on one core and the host thread would wait on the other; device elsewhere.
std::string auto_target_net(const Device& dev);
// Whether the learner's optimizer updates run on the host (nn::host_optimizer_pays; the
// same results bit for bit): on a CPU driver with one replica, whose updates run on one core while
// the host thread waits on the other (+28 % median training frames/s). VKWB_HOST_OPTIM=0|1
// overrides it (benchmarks).
bool use_host_optimizer(const Device& dev, int replicas);
// Where the hidden Linear layers compute (QNetworkOptions::hidden_exec; bit for bit the same
// on llvmpipe): on the host (LinearExec::host: forward and dX while the device waits, dW while
// it runs the rest of the backward pass) on a CPU driver with one replica and a CPU with AVX2,
// else on the device. VKWB_LINEAR=device|host_wgrad|host overrides it (benchmarks).
LinearExec hidden_linear_exec(const Device& dev, int replicas);

class Dqn {
 public:
  Dqn(const DqnConfig& cfg, Device& dev, envs::ObsShape obs, int num_actions);

  // Epsilon-greedy: uniformly random with probability epsilon (drawn from rng), else greedy.
  int act(const uint8_t* obs, float epsilon, HostRng& rng);
  int greedy_action(const uint8_t* obs);
  // Q-values of one observation (through the same path as greedy_action).
  std::vector<float> q_values(const uint8_t* obs);

  void store(const uint8_t* obs, int action, float reward, const uint8_t* next_obs, bool terminated, bool truncated);
  // One gradient update from a sampled batch; needs at least one stored transition.
  void train_step();

  int64_t updates() const { return updates_; }
  int64_t replay_size() const;
  // Training statistics since the last call (reads two device scalars: one sync).
  DqnStats take_stats();

  // Networks, optimizer, replay buffer, sampling RNG, counters and the statistics window.
  void save(io::CheckpointData& ck) const;
  void load(const io::CheckpointData& ck);

  // Replica 0's networks and optimizer (what checkpoints hold; the others are kept equal).
  QNetwork& online() { return *online_; }
  QNetwork& target() { return *target_; }
  nn::Optimizer& optimizer() { return *opt_; }
  const DqnConfig& config() const { return cfg_; }
  Device& device() { return dp_->device(0); }
  nn::DataParallel& replicas() { return *dp_; }

 private:
  void sync_target();
  void refresh_actor();
  void host_td_targets();
  Tensor upload_obs(const std::vector<uint8_t>& obs, int begin, int count, Device& dev);

  DqnConfig cfg_;
  envs::ObsShape obs_shape_;
  int num_actions_;
  // The online networks and optimizers, one per replica (cfg.replicas; one replica: the plain
  // update on the device), and each replica's target network.
  std::unique_ptr<nn::DataParallel> dp_;
  std::vector<std::shared_ptr<QNetwork>> targets_;
  std::shared_ptr<QNetwork> online_, target_;   // replica 0's
  nn::Optimizer* opt_ = nullptr;
  std::unique_ptr<rl::ReplayBuffer> replay_;             // uniform replay ...
  std::unique_ptr<rl::PrioritizedReplayBuffer> per_;     // ... or prioritized
  rl::ReplayBatch batch_;
  HostRng replay_rng_;
  int64_t updates_ = 0;

  // Greedy acting: a host copy of the online weights (actor = host), refreshed every
  // actor_sync_every updates; with 1 it is refreshed lazily, so random actions never wait.
  HostQNet actor_;
  bool actor_stale_ = true;
  std::vector<float> obs_f_;
  std::vector<float> next_obs_f_;   // the batch's next observations as floats (host TD targets)

  // The TD target on the host (target_net = host): a copy of the target network's weights,
  // refreshed lazily after every sync, and the batch's Q_target(s', .) and TD targets.
  bool host_target_ = false;
  HostQNet target_host_;
  bool target_host_stale_ = true;
  std::vector<float> q_next_host_, td_host_;

  // Statistics accumulated on the devices so that updates do not sync: per replica, the sums of
  // its shard's loss and mean Q weighted by the shard's share of the batch.
  std::vector<Tensor> loss_sum_, q_sum_;
  void reset_stats();
  int64_t stat_updates_ = 0;
};

}  // namespace vkwb::agents
