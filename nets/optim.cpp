#include "nets/optim.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"

namespace vkwb::nn {

Optimizer::Optimizer(std::vector<Tensor*> params, float lr_, std::string name) : lr(lr_), params_(std::move(params)), name_(std::move(name)) {
  if (params_.empty()) throw Error(name_ + ": no parameters to optimise");
  state_.resize(params_.size());
}

void Optimizer::set_shard(int index, int count) {
  if (count < 1 || index < 0 || index >= count)
    throw Error(name_ + ": shard " + std::to_string(index) + " of " + std::to_string(count));
  shard_index_ = index;
  shard_count_ = count;
}

std::pair<int64_t, int64_t> Optimizer::shard_range(int64_t n, int index, int count) {
  constexpr int64_t kAlign = 64;
  const int64_t blocks = (n + kAlign - 1) / kAlign;
  auto start = [&](int i) { return std::min(n, kAlign * (i * (blocks / count) + std::min<int64_t>(i, blocks % count))); };
  return {start(index), start(index + 1)};
}

void Optimizer::zero_grad() {
  for (auto* p : params_) p->zero_grad();
}

void Optimizer::step() { step(nullptr, nullptr); }

void Optimizer::step(const std::function<void(size_t)>& prepare, const std::function<void(size_t)>& done) {
  NoGradGuard ng;
  int nb = state_buffers();
  for (size_t i = 0; i < params_.size(); ++i)
    for (int k = 0; k < nb; ++k)
      if (!state_[i][k].defined()) state_[i][k] = Tensor::zeros(params_[i]->shape(), params_[i]->device());
  Device& dev = params_[0]->device();
  Tensor scale;
  if (clip_ > 0 && prepare)
    for (size_t i = 0; i < params_.size(); ++i) prepare(i);
  if (clip_ > 0) {
    Tensor total;
    for (auto* p : params_) {
      Tensor g = p->grad();
      if (!g.defined()) continue;
      Tensor s = sum(square(g.reshape({g.numel()})), 0);
      total = total.defined() ? add(total, s) : s;
    }
    if (total.defined()) scale = clamp(div(Tensor::full({1}, clip_, dev), add(sqrt(total.reshape({1})), 1e-6f)), 0.f, 1.f);
  }
  // The kernels read the scale from a buffer; the host update needs none (a fill recorded here
  // would cost the host update a submission of its own).
  const bool host = host_update_ && host_optim_supported(dev);
  if (!scale.defined() && !host) scale = Tensor::ones({1}, dev);
  steps_++;
  OptimStep s = configure();
  s.on_host = host_update_;
  // On the host, last parameter first: backward produces the last layers' gradients first, and
  // each update waits only for the device work touching its own tensors (Tensor::data_ready),
  // so the later layers update while the device still computes the earlier layers' gradients.
  const size_t np = params_.size();
  for (size_t j = 0; j < np; ++j) {
    const size_t i = host ? np - 1 - j : j;
    if (prepare && clip_ <= 0) prepare(i);
    Tensor g = params_[i]->grad();
    if (!g.defined()) continue;   // unused parameter this step
    // This shard's elements (all of them unsharded): flat views of the parameter, its gradient
    // and its state, on 64-element boundaries (optim_update checks the views' alignment).
    const int64_t n = params_[i]->numel();
    auto [lo, hi] = shard_range(n, shard_index_, shard_count_);
    if (lo == hi) continue;
    const bool whole = lo == 0 && hi == n;
    auto part = [&](const Tensor& t) { return whole ? t : t.reshape({n}).slice(lo, hi); };
    Tensor w = part(*params_[i]);
    Tensor sv[3];
    Tensor* st[3] = {nullptr, nullptr, nullptr};
    for (int k = 0; k < nb; ++k) sv[k] = part(state_[i][k]), st[k] = &sv[k];
    optim_update(s, w, part(g), st[0], st[1], st[2], scale.defined() ? &scale : nullptr);
    if (done) done(i);
  }
}

OptimStep Optimizer::begin_host_step() {
  if (clip_ > 0) throw Error(name_ + ": begin_host_step with gradient clipping (the norm needs every gradient first)");
  const int nb = state_buffers();
  for (size_t i = 0; i < params_.size(); ++i)
    for (int k = 0; k < nb; ++k) {
      if (!state_[i][k].defined()) state_[i][k] = Tensor::zeros(params_[i]->shape(), params_[i]->device());
      state_[i][k].host_ptr_ready();   // (its zero fill done)
    }
  steps_++;
  OptimStep s = configure();
  s.on_host = true;
  return s;
}

void Optimizer::host_update_range(const OptimStep& s, size_t i, int64_t lo, int64_t hi, const float* grad) {
  if (lo >= hi) return;
  float* st[3] = {nullptr, nullptr, nullptr};
  for (int k = 0; k < state_buffers(); ++k) st[k] = state_[i][k].data<float>(true) + lo;
  host_optim_update(s, size_t(hi - lo), params_[i]->data<float>(true) + lo, grad, st[0], st[1], st[2]);
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < state_.size(); ++i)
    for (int k = 0; k < 3; ++k)
      if (state_[i][k].defined()) out[std::to_string(i) + "." + std::to_string(k)] = state_[i][k];
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& s, int64_t steps) {
  for (auto& [key, t] : s) {
    size_t dot = key.find('.');
    size_t i = std::stoul(key.substr(0, dot));
    int k = std::stoi(key.substr(dot + 1));
    if (i >= params_.size() || k < 0 || k > 2 || t.numel() != params_[i]->numel())
      throw Error(name_ + ": optimizer state '" + key + "' does not match the model");
    state_[i][k] = Tensor::zeros(params_[i]->shape(), params_[i]->device());
    Tensor src = &t.device() == &params_[i]->device() ? t : t.to(params_[i]->device());
    copy_(state_[i][k], src.reshape(params_[i]->shape()));
  }
  steps_ = steps;
}

SGD::SGD(std::vector<Tensor*> p, const SGDOptions& o) : Optimizer(std::move(p), o.lr, o.nesterov ? "nesterov" : o.momentum > 0 ? "momentum" : "sgd"), opt(o) {
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) throw Error("nesterov momentum needs momentum > 0 and no dampening");
}
OptimStep SGD::configure() const {
  OptimStep s;
  s.op = opt.momentum > 0 ? OptimOp::momentum : OptimOp::sgd;
  s.lr = lr;
  s.weight_decay = opt.weight_decay;
  s.a = opt.momentum;
  s.b = opt.dampening;
  s.flag = opt.nesterov;
  s.first = steps_ == 1;
  return s;
}

Adagrad::Adagrad(std::vector<Tensor*> p, const AdagradOptions& o) : Optimizer(std::move(p), o.lr, "adagrad"), opt(o) {}
OptimStep Adagrad::configure() const {
  OptimStep s;
  s.op = OptimOp::adagrad;
  s.lr = lr;
  s.weight_decay = opt.weight_decay;
  s.eps = opt.eps;
  return s;
}

Adadelta::Adadelta(std::vector<Tensor*> p, const AdadeltaOptions& o) : Optimizer(std::move(p), o.lr, "adadelta"), opt(o) {}
OptimStep Adadelta::configure() const {
  OptimStep s;
  s.op = OptimOp::adadelta;
  s.lr = lr;
  s.weight_decay = opt.weight_decay;
  s.a = opt.rho;
  s.eps = opt.eps;
  return s;
}

RMSprop::RMSprop(std::vector<Tensor*> p, const RMSpropOptions& o) : Optimizer(std::move(p), o.lr, "rmsprop"), opt(o) {}
OptimStep RMSprop::configure() const {
  OptimStep s;
  s.op = OptimOp::rmsprop;
  s.lr = lr;
  s.weight_decay = opt.weight_decay;
  s.a = opt.alpha;
  s.eps = opt.eps;
  s.flag = opt.centered;
  s.momentum = opt.momentum;
  return s;
}

Adam::Adam(std::vector<Tensor*> p, const AdamOptions& o) : Optimizer(std::move(p), o.lr, o.decoupled ? "adamw" : "adam"), opt(o) {}
OptimStep Adam::configure() const {
  OptimStep s;
  s.op = OptimOp::adam;
  s.lr = lr;
  s.weight_decay = opt.weight_decay;
  s.a = opt.beta1;
  s.b = opt.beta2;
  s.eps = opt.eps;
  s.c1 = float(1.0 - std::pow(double(opt.beta1), double(steps_)));
  s.c2 = float(1.0 - std::pow(double(opt.beta2), double(steps_)));
  s.flag = opt.decoupled;
  return s;
}

std::vector<std::string> optimizer_names() { return {"sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "rmsprop_centered", "adam", "adamw"}; }

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor*> params, float lr, float wd, float momentum) {
  auto pick = [&](float dflt) { return lr > 0 ? lr : dflt; };
  if (name == "sgd") return std::make_unique<SGD>(params, SGDOptions{.lr = pick(0.01f), .weight_decay = wd});
  if (name == "momentum") return std::make_unique<SGD>(params, SGDOptions{.lr = pick(0.01f), .momentum = momentum, .weight_decay = wd});
  if (name == "nesterov")
    return std::make_unique<SGD>(params, SGDOptions{.lr = pick(0.01f), .momentum = momentum, .weight_decay = wd, .nesterov = true});
  if (name == "adagrad") return std::make_unique<Adagrad>(params, AdagradOptions{.lr = pick(0.01f), .weight_decay = wd});
  if (name == "adadelta") return std::make_unique<Adadelta>(params, AdadeltaOptions{.lr = pick(1.f), .weight_decay = wd});
  if (name == "rmsprop") return std::make_unique<RMSprop>(params, RMSpropOptions{.lr = pick(1e-3f), .weight_decay = wd});
  if (name == "rmsprop_centered")   // Graves 2013: normalise by the gradient's variance, not its second moment
    return std::make_unique<RMSprop>(params, RMSpropOptions{.lr = pick(1e-3f), .weight_decay = wd, .centered = true});
  if (name == "adam") return std::make_unique<Adam>(params, AdamOptions{.lr = pick(1e-3f), .weight_decay = wd});
  // AdamW: weight decay 0 means PyTorch's default 0.01 (plain adam is AdamW without decay).
  if (name == "adamw") return std::make_unique<Adam>(params, AdamOptions{.lr = pick(1e-3f), .weight_decay = wd > 0 ? wd : 0.01f, .decoupled = true});
  std::string all;
  for (auto& n : optimizer_names()) all += (all.empty() ? "" : ", ") + n;
  throw Error("unknown optimizer '" + name + "' (" + all + ")");
}

LRSchedule::LRSchedule(float base, const ScheduleOptions& o) : base_(base), o_(o) {
  if (o.kind != "constant" && o.kind != "step" && o.kind != "cosine" && o.kind != "plateau")
    throw Error("unknown lr schedule '" + o.kind + "' (constant, step, cosine, plateau)");
}

float LRSchedule::lr_for_epoch(int e) {
  double lr = base_;
  if (o_.kind == "step") lr = base_ * std::pow(double(o_.gamma), double(e / std::max(1, o_.step_size)));
  else if (o_.kind == "cosine")
    lr = o_.min_lr + 0.5 * (base_ - o_.min_lr) * (1 + std::cos(M_PI * std::min(e, o_.total_epochs) / std::max(1, o_.total_epochs)));
  else if (o_.kind == "plateau") lr = base_ * plateau_scale_;
  if (e < o_.warmup_epochs) lr *= 0.1 + 0.9 * double(e) / o_.warmup_epochs;
  return float(lr);
}

void LRSchedule::report_validation_loss(float loss) {
  if (loss < best_ * (1 - 1e-4f)) {
    best_ = loss;
    bad_ = 0;
  } else if (++bad_ > o_.patience) {
    plateau_scale_ *= o_.gamma;
    bad_ = 0;
  }
}

}  // namespace vkwb::nn
