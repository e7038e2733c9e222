// Layers with PyTorch's names and options structs. Each takes a ModuleContext (device + seeds).
#pragma once
#include <functional>
#include <initializer_list>
#include <vector>

#include "engine/ops.h"
#include "nets/module.h"

namespace vkwb::nn {

class Linear : public Module {
 public:
  Linear(ModuleContext& ctx, int in, int out, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor forward(const Tensor& x, Epilogue act);   // with a fused output activation
  std::string type_name() const override;
  Tensor& weight() { return *weight_; }
  Tensor* bias() { return bias_; }
  // Where the products run (vkwb::LinearExec; default on the device).
  void set_exec(LinearExec e) { exec_ = e; }
  LinearExec exec() const { return exec_; }
  int in, out;

 private:
  Tensor* weight_;
  Tensor* bias_ = nullptr;
  LinearExec exec_ = LinearExec::device;
};

// Sets every Linear layer in m (m itself and its descendants) to compute with `e`.
void set_linear_exec(Module& m, LinearExec e);

// While alive, the Linear layers of these modules that compute wholly on the host
// (LinearExec::host) run their forward on the device (LinearExec::host_wgrad; the same numbers),
// and get LinearExec::host back afterwards. For inference that records several replicas one after
// another on one thread: a host forward makes each device wait for the host before the next
// replica's batch is even recorded (LeNet-5 inference on two replicas ~34k vs ~60k img/s).
class DeviceForwardScope {
 public:
  explicit DeviceForwardScope(const std::vector<Module*>& modules);
  ~DeviceForwardScope();
  DeviceForwardScope(const DeviceForwardScope&) = delete;
  DeviceForwardScope& operator=(const DeviceForwardScope&) = delete;

 private:
  std::vector<Linear*> changed_;
};

struct Conv2dOptions {
  int in = 1, out = 1, kernel = 3, stride = 1, padding = 0, dilation = 1, groups = 1;
  bool bias = true;
  int output_padding = 0;   // ConvTranspose2d only
};

class Conv2d : public Module {
 public:
  Conv2d(ModuleContext& ctx, const Conv2dOptions& o);
  Tensor forward(const Tensor& x) override;
  virtual Tensor forward(const Tensor& x, Epilogue act);   // with a fused output activation
  // max_pool2d(relu(forward(x))) as one op (vkwb::conv2d_relu_max_pool2d; Sequential fuses
  // Conv2d, ReLU, MaxPool2d).
  virtual Tensor forward_relu_max_pool(const Tensor& x, const Pool2dOptions& pool);
  std::string type_name() const override;
  Tensor& weight() { return *weight_; }
  Conv2dOptions opt;

 protected:
  vkwb::Conv2dOptions engine_options() const;
  Tensor* weight_;
  Tensor* bias_ = nullptr;
};

class ConvTranspose2d : public Conv2d {
 public:
  ConvTranspose2d(ModuleContext& ctx, const Conv2dOptions& o);   // weight [in, out/groups, k, k]
  Tensor forward(const Tensor& x) override;
  Tensor forward(const Tensor& x, Epilogue act) override;   // the activation as a separate op
  Tensor forward_relu_max_pool(const Tensor& x, const Pool2dOptions& pool) override;   // three ops
  std::string type_name() const override;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int kernel, int stride = 0, int padding = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override;
  Pool2dOptions opt;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int kernel, int stride = 0, int padding = 0, bool count_include_pad = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override;
  Pool2dOptions opt;
};

class AdaptiveAvgPool2d : public Module {
 public:
  AdaptiveAvgPool2d(int h, int w) : h_(h), w_(w) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, h_, w_); }
  std::string type_name() const override;

 private:
  int h_, w_;
};

// BatchNorm1d ([N, C]) and BatchNorm2d ([N, C, H, W]) share the implementation.
class BatchNorm : public Module {
 public:
  BatchNorm(ModuleContext& ctx, int features, float momentum = 0.1f, float eps = 1e-5f, bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override;

 private:
  int features_;
  float momentum_, eps_;
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
  Tensor* running_mean_;
  Tensor* running_var_;
};
using BatchNorm1d = BatchNorm;
using BatchNorm2d = BatchNorm;

class Dropout : public Module {
 public:
  Dropout(ModuleContext& ctx, float p = 0.5f);
  Tensor forward(const Tensor& x) override;
  void set_step(int64_t step) override { calls_ = uint64_t(step) << 16; }
  std::string type_name() const override;

 private:
  float p_;
  uint64_t seed_, calls_ = 0;
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x.flatten(1); }
  std::string type_name() const override { return "Flatten"; }
};

// Parameter-free elementwise layer: ReLU, LeakyReLU, ELU, SELU, Sigmoid, Tanh, Softplus, SiLU, GELU,
// ReLU6, Hardtanh (PReLU, which learns its slope, is a module of its own below).
class Activation : public Module {
 public:
  Activation(std::string name, std::function<Tensor(const Tensor&)> fn, Epilogue fused = Epilogue::none)
      : name_(std::move(name)), fn_(std::move(fn)), fused_(fused) {}
  Tensor forward(const Tensor& x) override { return fn_(x); }
  std::string type_name() const override { return name_; }
  // The epilogue a preceding Linear/Conv2d can apply instead (Sequential fuses them), or none.
  Epilogue epilogue() const { return fused_; }

 private:
  std::string name_;
  std::function<Tensor(const Tensor&)> fn_;
  Epilogue fused_;
};
std::shared_ptr<Activation> ReLU();
std::shared_ptr<Activation> LeakyReLU(float slope = 0.01f);
std::shared_ptr<Activation> ELU(float alpha = 1.f);
std::shared_ptr<Activation> Sigmoid();
std::shared_ptr<Activation> Tanh();
std::shared_ptr<Activation> Softplus();
std::shared_ptr<Activation> SiLU();
std::shared_ptr<Activation> GELU(bool tanh_approximation = false);
std::shared_ptr<Activation> ReLU6();
std::shared_ptr<Activation> Hardtanh(float lo = -1.f, float hi = 1.f);
std::shared_ptr<Activation> SELU();

// y = max(0, x) + a * min(0, x) with a learned slope: one shared (num_parameters = 1) or one per
// channel (dimension 1 of the input), initialised to `init` as in torch.nn.PReLU.
class PReLU : public Module {
 public:
  PReLU(ModuleContext& ctx, int num_parameters = 1, float init = 0.25f);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PReLU(" + std::to_string(n_) + ")"; }

 private:
  int n_;
  Tensor* weight_;
};
std::shared_ptr<Activation> activation(const std::string& name);   // by name; throws on unknown

class LocalResponseNorm : public Module {
 public:
  LocalResponseNorm(int size, float alpha = 1e-4f, float beta = 0.75f, float k = 1.f) : size_(size), alpha_(alpha), beta_(beta), k_(k) {}
  Tensor forward(const Tensor& x) override { return local_response_norm(x, size_, alpha_, beta_, k_); }
  std::string type_name() const override;

 private:
  int size_;
  float alpha_, beta_, k_;
};

// Runs its children in order. A Linear or Conv2d directly followed by an activation that has an
// epilogue (ReLU) runs as one fused op (the same values and gradients, one pass over the output
// fewer); VKWB_FUSE=0 turns that off (tests and benchmarks compare both).
class Sequential : public Module {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<ModulePtr> mods);
  Sequential& add(ModulePtr m);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  size_t size() const { return children().size(); }
};

}  // namespace vkwb::nn
