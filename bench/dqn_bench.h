// DQN throughput, comparable with /work/shared/peers/torch/dqn.py:
//  * updates/s of the DQN update step for the MinAtar Q-network (4x10x10 input, conv 16@3x3 ->
//    FC 128 -> FC 6), batch 32, RMSprop (lr 2.5e-4, alpha 0.95, eps 0.01, not centered, like the
//    PyTorch script), Huber loss, on 64 pre-built random binary batches already on the device
//    (replay sampling not included); with replicas > 1, each replica updates on its shard of the
//    batch and the gradients are averaged (as agents::Dqn does with cfg.replicas); the TD target
//    max_a' Q_target(s', a') comes from the target network on the device or, with target = host,
//    from a host copy of it (HostQNet, computed before the update is recorded; agents::Dqn submits
//    the online forward first and computes the targets while the device runs it);
//  * batch-1 greedy action-selection latency (median us) three ways: HostQNet loops on a host copy
//    of the weights (what the agent uses), the device forward + argmax + readback (on replica 0's
//    device), and the engine's
//    CPU reference backend.
// With VKWB_PROFILE=1 the per-kernel GPU time of the timed updates is returned as well.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/device.h"

namespace vkwb::bench {

struct DqnBenchOptions {
  int updates = 500;          // updates per timed repetition
  int warmup = 50;            // untimed updates first (pipeline JIT, allocator warm-up)
  int reps = 3;               // repetitions; the median is reported
  int latency_calls = 2000;   // batch-1 action selections per latency measurement
  std::string optimizer = "rmsprop";   // rmsprop or adam
  bool gemm_shapes = true;             // also time each GEMM shape of the update on its own
  int replicas = 1;                    // data-parallel replicas of the learner (nets/parallel.h), each on a shard
  std::string target = "auto";         // where the target network's forward runs: host (HostQNet on a copy of
                                       // its weights, as agents::Dqn does), device, or auto (host on a CPU driver)
  std::string optimizer_on = "auto";   // where the optimizer's updates run: host (nn::Optimizer::set_host_update, same
                                       // results), device (the kernel), or auto (agents::use_host_optimizer)
  std::string fc1 = "auto";            // where fc1's products run (vkwb::LinearExec, same results): device,
                                       // host_wgrad, host, or auto (agents::hidden_linear_exec)
};

// One GEMM of the update step, timed alone (median over repeated calls, synced).
struct GemmShapeTiming {
  std::string what;          // which layer and pass it belongs to
  int m = 0, n = 0, k = 0;
  bool ta = false, tb = false;
  double us = 0;
};

struct DqnBenchResult {
  std::string device, optimizer;
  int replicas = 1;
  std::string target;                    // host or device (auto resolved)
  std::string optimizer_on;              // host or device (auto resolved)
  std::string fc1;                       // device, host_wgrad or host (auto resolved)
  double updates_per_sec = 0;            // median over reps
  std::vector<double> updates_per_sec_reps;
  double dispatches_per_update = 0;
  double submits_per_update = 0;
  double act_host_us = 0;                // median latency, HostQNet on the host copy
  double act_device_us = 0;              // median latency, forward + argmax + to_ivector on `dev`
  double act_cpu_backend_us = 0;         // median latency, the engine's CPU reference backend
  double host_refresh_us = 0;            // median cost of refreshing the host copy (sync + copy)
  std::vector<GemmShapeTiming> gemms;    // the 11 GEMMs of one update (with gemm_shapes)
  std::string profile;                   // per-kernel table (VKWB_PROFILE=1), else ""
};

DqnBenchResult bench_dqn(Device& dev, const DqnBenchOptions& opt = {});
std::string format(const DqnBenchResult& r);

}  // namespace vkwb::bench
