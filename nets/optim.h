// Optimizers (torch.optim semantics) as fused update kernels: one dispatch per parameter tensor,
// everything recorded into the training step's submission. Gradient clipping by global norm is
// computed on the device and applied as a scale inside the update, so it never syncs.
#pragma once
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/ops.h"

namespace vkwb::nn {

class Optimizer {
 public:
  Optimizer(std::vector<Tensor*> params, float lr, std::string name);
  virtual ~Optimizer() = default;
  void step();
  // step() calling prepare(i) before parameter i's gradient is read and done(i) after its update
  // (data parallelism: the gradient summed in, the new weights copied out), parameter by
  // parameter in the update order (on the host: last first), so later layers can be finished
  // while the device still computes the earlier ones' gradients. With clipping every prepare()
  // runs first (the norm needs every gradient).
  void step(const std::function<void(size_t)>& prepare, const std::function<void(size_t)>& done);
  void zero_grad();
  // For a caller that runs the host update itself, element range by element range (DataParallel's
  // host reduce; not with clipping): begin_host_step() counts the step and returns its parameters
  // (the state allocated, and ready on the host), then host_update_range(s, i, lo, hi, grad)
  // updates elements [lo, hi) of parameter i with the gradient `grad` (hi - lo floats), as step()
  // would, bit for bit. The caller keeps device work off the parameter and its state meanwhile.
  OptimStep begin_host_step();
  void host_update_range(const OptimStep& s, size_t i, int64_t lo, int64_t hi, const float* grad);
  // Scales this step's gradients so their global L2 norm is at most max_norm (0: off).
  void clip_grad_norm(float max_norm) { clip_ = max_norm; }
  float max_grad_norm() const { return clip_; }
  // Sharded updates (data parallelism, nets/parallel.h): step() updates only shard `index` of
  // `count` of every parameter and of its state: the elements shard_range() names. The gradient
  // clipping norm is still taken over the whole gradients. Default: shard 0 of 1, everything.
  void set_shard(int index, int count);
  int shard_index() const { return shard_index_; }
  int shard_count() const { return shard_count_; }
  // Elements [first, second) of a tensor of n elements in shard `index` of `count`: contiguous
  // chunks whose boundaries fall on multiples of 64 elements (256 bytes, so views of them keep
  // every device's storage-buffer offset alignment and vec4 access), the first shards the longest.
  static std::pair<int64_t, int64_t> shard_range(int64_t n, int index, int count);
  // On a CPU driver, run the updates on the host over the mapped memory (OptimStep::on_host: the
  // kernel's results bit for bit); ignored on GPUs. Off by default: it pays when a host core
  // would otherwise wait for the device (the DQN learner), not when every core runs a replica.
  void set_host_update(bool on) { host_update_ = on; }
  bool host_update() const { return host_update_; }
  float lr = 0.01f;
  int64_t steps() const { return steps_; }
  const std::string& name() const { return name_; }

  // Optimizer state (moment buffers, step counter) for checkpoints.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& s, int64_t steps);

 protected:
  virtual OptimStep configure() const = 0;   // per-step kernel parameters
  virtual int state_buffers() const = 0;
  bool host_update_ = false;
  std::vector<Tensor*> params_;
  std::vector<std::array<Tensor, 3>> state_;
  int64_t steps_ = 0;
  float clip_ = 0.f;
  int shard_index_ = 0, shard_count_ = 1;
  std::string name_;
};

struct SGDOptions { float lr = 0.01f, momentum = 0.f, dampening = 0.f, weight_decay = 0.f; bool nesterov = false; };
class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor*> params, const SGDOptions& o);
  SGDOptions opt;
 protected:
  OptimStep configure() const override;
  int state_buffers() const override { return opt.momentum > 0 ? 1 : 0; }
};

struct AdagradOptions { float lr = 0.01f, eps = 1e-10f, weight_decay = 0.f; };
class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Tensor*> params, const AdagradOptions& o);
  AdagradOptions opt;
 protected:
  OptimStep configure() const override;
  int state_buffers() const override { return 1; }
};

struct AdadeltaOptions { float lr = 1.f, rho = 0.9f, eps = 1e-6f, weight_decay = 0.f; };
class Adadelta : public Optimizer {
 public:
  Adadelta(std::vector<Tensor*> params, const AdadeltaOptions& o);
  AdadeltaOptions opt;
 protected:
  OptimStep configure() const override;
  int state_buffers() const override { return 2; }
};

struct RMSpropOptions { float lr = 0.01f, alpha = 0.99f, eps = 1e-8f, weight_decay = 0.f, momentum = 0.f; bool centered = false; };
class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor*> params, const RMSpropOptions& o);
  RMSpropOptions opt;
 protected:
  OptimStep configure() const override;
  int state_buffers() const override { return 3; }
};

struct AdamOptions { float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.f; bool decoupled = false; };
class Adam : public Optimizer {   // decoupled = true is AdamW
 public:
  Adam(std::vector<Tensor*> params, const AdamOptions& o);
  AdamOptions opt;
 protected:
  OptimStep configure() const override;
  int state_buffers() const override { return 2; }
};

// By name: sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamw. lr <= 0: default.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor*> params, float lr,
                                          float weight_decay = 0.f, float momentum = 0.9f);
std::vector<std::string> optimizer_names();

// Learning-rate schedules, evaluated per epoch on the host.
struct ScheduleOptions {
  std::string kind = "constant";   // constant, step, cosine, plateau
  int step_size = 10;              // step: every step_size epochs multiply by gamma
  float gamma = 0.1f;
  int total_epochs = 10;           // cosine: anneal to min_lr over this many epochs
  float min_lr = 0.f;
  int warmup_epochs = 0;           // linear warmup from lr/10 (any kind)
  int patience = 2;                // plateau: epochs without improvement before lr *= gamma
};
class LRSchedule {
 public:
  LRSchedule(float base_lr, const ScheduleOptions& o);
  float lr_for_epoch(int epoch);                 // epoch from 0
  void report_validation_loss(float loss);       // plateau bookkeeping
  float plateau_scale() const { return plateau_scale_; }
  void set_plateau_state(float scale, float best, int bad) { plateau_scale_ = scale, best_ = best, bad_ = bad; }
  float best() const { return best_; }
  int bad_epochs() const { return bad_; }

 private:
  float base_;
  ScheduleOptions o_;
  float plateau_scale_ = 1.f, best_ = 1e30f;
  int bad_ = 0;
};

}  // namespace vkwb::nn
