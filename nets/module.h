// Module: ordered registries of parameters, buffers and child modules (PyTorch's nn.Module).
// Parameters are created on a device at construction from a ModuleContext, which also hands out
// seeds, so one --seed fixes every initial weight on every device.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace vkwb::nn {

struct ModuleContext {
  Device* device;
  uint64_t seed = 1;
  uint64_t counter = 0;
  explicit ModuleContext(Device& dev, uint64_t s = 1) : device(&dev), seed(s) {}
  uint64_t next_seed();   // splitmix64 of (seed, counter++)
};

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  virtual std::string type_name() const = 0;

  std::vector<std::pair<std::string, Tensor*>> named_parameters(const std::string& prefix = "");
  std::vector<std::pair<std::string, Tensor*>> named_buffers(const std::string& prefix = "");
  std::vector<Tensor*> parameters();
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  int64_t num_parameters();

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  // Trainers call this before each step: stochastic layers (Dropout) derive their randomness
  // from (seed, step), so a resumed run draws exactly the masks an uninterrupted run would.
  virtual void set_step(int64_t step);

  // Parameters and buffers by dotted name ("features.0.weight"), sharing storage.
  std::map<std::string, Tensor> state_dict();
  // Copies values in; every entry must exist with the same shape (clear error otherwise).
  void load_state_dict(const std::map<std::string, Tensor>& state);

  // A one-line-per-module description with parameter counts (for `vkwb models`, logs).
  std::string summary(int indent = 0);

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  std::deque<std::pair<std::string, Tensor>> params_, buffers_;   // deque: stable addresses
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace vkwb::nn
