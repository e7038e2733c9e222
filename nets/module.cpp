#include "nets/module.h"

#include "engine/ops.h"

namespace vkwb::nn {

uint64_t ModuleContext::next_seed() {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (++counter);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  t.requires_grad_(true);
  params_.emplace_back(name, std::move(t));
  return params_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  buffers_.emplace_back(name, std::move(t));
  return buffers_.back().second;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_parameters(const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [n, t] : params_) out.emplace_back(prefix + n, &t);
  for (auto& [n, c] : children_) {
    auto sub = c->named_parameters(prefix + n + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::named_buffers(const std::string& prefix) {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (auto& [n, t] : buffers_) out.emplace_back(prefix + n, &t);
  for (auto& [n, c] : children_) {
    auto sub = c->named_buffers(prefix + n + ".");
    out.insert(out.end(), sub.begin(), sub.end());
  }
  return out;
}

std::vector<Tensor*> Module::parameters() {
  std::vector<Tensor*> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() {
  int64_t n = 0;
  for (auto* t : parameters()) n += t->numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::set_step(int64_t step) {
  for (auto& [n, c] : children_) c->set_step(step);
}

void Module::zero_grad() {
  for (auto* t : parameters()) t->zero_grad();
}

std::map<std::string, Tensor> Module::state_dict() {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out[n] = *t;
  for (auto& [n, t] : named_buffers()) out[n] = *t;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state) {
  auto all = named_parameters();
  auto bufs = named_buffers();
  all.insert(all.end(), bufs.begin(), bufs.end());
  for (auto& [n, t] : all) {
    auto it = state.find(n);
    if (it == state.end()) throw Error("state dict has no entry '" + n + "'");
    if (it->second.shape() != t->shape())
      throw Error("state dict entry '" + n + "' has shape " + it->second.shape().str() + ", the model expects " + t->shape().str());
    Tensor src = &it->second.device() == &t->device() ? it->second : it->second.to(t->device());
    copy_(*t, src);
  }
  if (state.size() != all.size()) throw Error("state dict has " + std::to_string(state.size()) + " entries, the model " + std::to_string(all.size()));
}

std::string Module::summary(int indent) {
  std::string s(size_t(indent), ' ');
  int64_t own = 0;
  for (auto& [n, t] : params_) own += t.numel();
  s += type_name();
  int64_t total = num_parameters();
  s += "  (" + std::to_string(total) + " params)\n";
  for (auto& [n, c] : children_) s += std::string(size_t(indent + 2), ' ') + n + ": " + c->summary(indent + 2).substr(size_t(indent + 2));
  return s;
}

}  // namespace vkwb::nn
