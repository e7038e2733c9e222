// Data-parallel training: replicas of one model (and of its optimizer) on several devices, each
// training on a shard of every batch, with the gradients averaged between backward and the
// optimizer step, so every replica takes the same step with the same weights (PyTorch's
// DistributedDataParallel, in one process). The average goes through the host; the trainers'
// models are small enough that it costs next to nothing next to a step.
//
// Why on one CPU: llvmpipe wakes its worker threads for every dispatch (~50 us on 2 cores, more
// than most of a small net's kernels take). Replicas opened by Device::open_replicas run with the
// pool off, each on its own queue thread: every core busy, no wake-ups (docs/PERFORMANCE.md).
//
// With one replica this is the plain training step on that device. Batch-norm statistics are
// per shard (as in DDP without SyncBatchNorm); average_buffers() makes the running statistics
// agree (their unweighted mean) before evaluation and checkpoints. Replica r >= 1 of a stochastic layer draws its masks
// at step r + R * step (set_step), replica 0 at R * step: one replica draws what it always did.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "nets/module.h"
#include "nets/optim.h"

namespace vkwb::nn {

// What `--replicas auto` picks: one replica per core this process may use (its CPU affinity) on
// a CPU driver, at most 8 and at most one per sample of a batch of `batch`; else 1.
int auto_replicas(const Device& dev, int batch);

// Whether training with `replicas` replicas of `dev` should run the optimizer's updates on the
// host (Optimizer::set_host_update, the kernel's results bit for bit): with one replica on a CPU
// driver. The host updates a parameter in about 1 ns where the kernel takes about 4 ns, and the
// device's cores would otherwise wait for it (LeNet-5 `--replicas 1` +12-14 % img/s, the DQN
// learner +28 % frames/s; docs/PERFORMANCE.md). VKWB_HOST_OPTIM=0|1 overrides. With more
// replicas, DataParallel::reduce_on_host decides instead (one host update for all of them).
bool host_optimizer_pays(const Device& dev, int replicas);

// Where the classifier trainers' Linear layers compute (nn::set_linear_exec) when training with
// `replicas` replicas, where host_linear_supported (a CPU driver with mapped memory and AVX2; the
// results are the device's bit for bit): everything on the host (LinearExec::host: the forward
// and the data gradient while the device waits, the weight gradient overlapped with the rest of
// the backward) with one replica or with replicas recorded in threads (threaded_recording_pays):
// the host's AVX-512/AVX2 GEMM does ~4x llvmpipe's multiply-adds per second, and each replica's
// recording thread computes its own layers on its own core. LeNet-5 on two replicas +6-19 % per
// round (mean 1.135x of 6), on one +3-11 % over the weight gradients alone (docs/PERFORMANCE.md).
// With replicas recorded on one thread only the weight gradients (LinearExec::host_wgrad: the
// devices would wait for each other's host layers; LinearExec::host was ~30 % slower there).
// Else on the device. VKWB_LINEAR=device|host_wgrad|host overrides.
LinearExec trainer_linear_exec(const Device& dev, int replicas);

// Whether the classifier trainers record their replicas in threads (DataParallel::record_in_threads):
// with more than one replica. On one host thread the recording, the host fc weight gradients and
// the optimizer of both replicas shared a core with one replica's queue thread, which then
// finished its step ~0.3-0.5 ms after the other; LeNet-5 on two replicas +6-9 % img/s
// (docs/PERFORMANCE.md). VKWB_RECORD_THREADS=0|1 overrides.
bool threaded_recording_pays(int replicas);

class DataParallel {
 public:
  using ModelFactory = std::function<ModulePtr(ModuleContext&)>;
  using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor*>)>;
  // Builds the model on every device with the same seed, then copies replica 0's parameters and
  // buffers to the others (so the replicas agree even if an initialiser were device-dependent).
  DataParallel(const std::vector<Device*>& devices, uint64_t seed, const ModelFactory& make_model,
               const OptimizerFactory& make_optimizer);

  int size() const { return int(replicas_.size()); }
  Device& device(int r) const { return *replicas_[size_t(r)].device; }
  Module& model(int r = 0) const { return *replicas_[size_t(r)].model; }
  ModulePtr model_ptr(int r = 0) const { return replicas_[size_t(r)].model; }
  Optimizer& optimizer(int r = 0) const { return *replicas_[size_t(r)].opt; }

  // Rows [begin[r], begin[r] + count[r]) of a batch of n for each replica: as even as possible,
  // the first replicas take the remainder; a replica with count 0 sits the step out.
  struct Shard { int begin = 0, count = 0; };
  std::vector<Shard> shards(int n) const;

  // One training step on a batch of n rows. loss(r, shard) builds replica r's loss (a scalar,
  // the mean over its shard) on device(r); the step backpropagates every replica's loss (each
  // device works while the host records the next), averages the gradients weighted by shard
  // size (the full batch's mean-loss gradient), and steps every optimizer (with reduce_on_host:
  // replica 0's, on the host, then copies its weights to the others). Returns each
  // replica's loss tensor (undefined for an idle replica).
  std::vector<Tensor> step(int64_t step_index, int n, const std::function<Tensor(int, const Shard&)>& loss);

  // Submits replica r's recorded work without waiting (with one replica: nothing, its stream
  // batches a whole step as before); sync() waits for every replica.
  void flush(int r);
  void sync();

  void set_lr(float lr);
  void train(bool on = true);
  // Averages floating-point buffers (batch-norm running statistics) over the replicas.
  void average_buffers();
  // Copies replica `from`'s parameters and buffers to every other replica (after loading a
  // checkpoint into it) and its optimizer state.
  void broadcast(int from = 0);

  // Sharded optimizer (ZeRO stage 1, on by default with more than one replica unless the host
  // update below is): replica r's optimizer updates only shard r of every parameter
  // (Optimizer::set_shard) and step() then copies each updated shard to the other replicas, so
  // the parameter-sized work of the update (the optimizer's reads and writes, the largest part
  // of a small net's step on a CPU driver) is split instead of repeated. The numbers are the
  // same either way: every element is updated by the same kernel from the same averaged
  // gradient. Each optimizer's state is then current only on its own shard;
  // gather_optimizer_state() assembles the whole of it in replica 0's optimizer (before a
  // checkpoint saves it) and broadcast() hands all of it back.
  void shard_optimizer(bool on);
  bool optimizer_sharded() const { return sharded_; }
  void gather_optimizer_state();

  // Host update (on by default with more than one replica on a CPU driver whose memory is mapped;
  // VKWB_HOST_REDUCE=0 turns it off): the all-reduce sums every replica's gradient into replica
  // 0's, replica 0's optimizer updates on the host (Optimizer::set_host_update: the kernel's
  // numbers bit for bit) and its parameters are copied to the other replicas. The other
  // optimizers never step; replica 0's holds the whole state (as unsharded). Against the sharded
  // kernels it saves the devices the update kernels (~0.14 ms per LeNet-5 step and replica) and
  // the waits around them: the optimizer's submission, its completion, the shard exchange. The
  // numbers are the same either way. Turning it on switches sharding off (and vice versa).
  void reduce_on_host(bool on);
  bool host_reduced() const { return host_reduce_; }

  // Threaded recording: step() runs replica r's part (zero_grad, the loss closure, the backward,
  // its deferred host gradients) on worker thread r for r >= 1, replica 0's on the calling
  // thread; the gradient sum and the optimizer step follow on the calling thread once all are
  // done (an exception on any thread is rethrown there). Every replica is its own Device
  // (allocator, stream, kernels), and autograd's state is per thread, so only the loss closure
  // must be safe to run for different replicas at once: it may touch only replica r's device,
  // model and per-replica slots. Off by default (the DQN's closure shares state between its
  // replicas); the classifier trainers and `vkwb bench train` turn it on (threaded_recording_pays).
  // The numbers do not change: each replica records the same work either way.
  void record_in_threads(bool on);
  bool records_in_threads() const { return bool(workers_); }
  // The host reduce's sum, update and copies a cache-sized range at a time (default), or each a
  // pass over the whole parameter (the same numbers; for tests and A/B runs, as
  // VKWB_FUSED_REDUCE=0).
  void fuse_host_reduce(bool on) { fused_reduce_ = on; }

 private:
  struct Replica {
    Device* device;
    ModulePtr model;
    std::unique_ptr<Optimizer> opt;
    std::vector<Tensor*> params;
  };
  void all_reduce_gradients(const std::vector<double>& weights);   // weight 0: an idle replica
  void host_reduce_step(const std::vector<double>& weights);       // reduce_on_host's step
  bool fused_host_reduce() const;   // host_reduce_step range by range
  bool fused_reduce_ = true;
  void all_gather_parameters();   // each replica's updated shard to every other replica
  std::vector<Replica> replicas_;
  bool sharded_ = false;
  bool host_reduce_ = false;
  bool host_update0_ = false;   // replica 0's own host-update setting, restored when host_reduce_ goes off
  std::vector<float> reduce_scratch_;
  class Workers;
  std::unique_ptr<Workers, void (*)(Workers*)> workers_{nullptr, nullptr};
};

}  // namespace vkwb::nn
