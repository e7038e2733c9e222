#include "agents/q_network.h"

#include "engine/error.h"
#include "engine/memory.h"

namespace vkwb::agents {

QNetwork::QNetwork(nn::ModuleContext& ctx, const QNetworkOptions& o) : opt_(o) {
  const auto& s = o.obs;
  if (s.c <= 0 || s.h <= 0 || s.w <= 0) throw Error("QNetwork: empty observation shape");
  if (o.num_actions <= 0) throw Error("QNetwork: needs at least one action");
  if (o.kind != "conv" && o.kind != "mlp") throw Error("QNetwork: kind must be conv or mlp, got '" + o.kind + "'");
  trunk_ = std::make_shared<nn::Sequential>();
  int features = 0;
  if (o.kind == "conv") {
    const int pad = (s.h < 5 || s.w < 5) ? 1 : 0;
    auto conv = std::make_shared<nn::Conv2d>(ctx, nn::Conv2dOptions{.in = s.c, .out = 16, .kernel = 3, .stride = 1, .padding = pad});
    trunk_->add(conv).add(nn::ReLU()).add(std::make_shared<nn::Flatten>());
    param_layers_.push_back(conv);
    layout_.add_conv(s.c, s.h, s.w, 16, 3, pad);
    features = 16 * (s.h + 2 * pad - 2) * (s.w + 2 * pad - 2);
  } else {
    auto fc = std::make_shared<nn::Linear>(ctx, int(s.size()), o.hidden);
    fc->set_exec(o.hidden_exec);
    trunk_->add(std::make_shared<nn::Flatten>()).add(fc).add(nn::ReLU());
    param_layers_.push_back(fc);
    layout_.add_linear(0, int(s.size()), o.hidden, true);
    features = o.hidden;
  }
  register_module("trunk", trunk_);
  auto stream = [&](int head, int out) {
    auto seq = std::make_shared<nn::Sequential>();
    auto fc1 = std::make_shared<nn::Linear>(ctx, features, o.hidden);
    auto fc2 = std::make_shared<nn::Linear>(ctx, o.hidden, out);
    fc1->set_exec(o.hidden_exec);
    seq->add(fc1).add(nn::ReLU()).add(fc2);
    layout_.add_linear(head, features, o.hidden, true);
    layout_.add_linear(head, o.hidden, out, false);
    return std::make_pair(seq, std::vector<std::shared_ptr<nn::Module>>{fc1, fc2});
  };
  auto [q, q_layers] = stream(1, o.num_actions);
  q_ = register_module(o.dueling ? "advantage" : "q", q);
  param_layers_.insert(param_layers_.end(), q_layers.begin(), q_layers.end());
  if (o.dueling) {
    auto [v, v_layers] = stream(2, 1);
    v_ = register_module("value", v);
    param_layers_.insert(param_layers_.end(), v_layers.begin(), v_layers.end());
  }
}

Tensor QNetwork::forward(const Tensor& x) { return head(features(x)); }

Tensor QNetwork::features(const Tensor& x) { return trunk_->forward(x); }

Tensor QNetwork::head(const Tensor& h) {
  if (!opt_.dueling) return q_->forward(h);
  Tensor a = q_->forward(h);
  Tensor v = v_->forward(h);   // [N, 1], broadcast over actions
  return add(v, sub(a, mean(a, 1, true)));
}

std::vector<std::pair<Tensor*, Tensor*>> QNetwork::layer_params() {
  std::vector<std::pair<Tensor*, Tensor*>> out;
  for (auto& l : param_layers_) {
    auto params = l->named_parameters();
    Tensor *w = nullptr, *b = nullptr;
    for (auto& [name, t] : params) (name == "weight" ? w : b) = t;
    out.emplace_back(w, b);
  }
  return out;
}

HostQNet QNetwork::make_host() const { return layout_; }

void QNetwork::copy_weights(HostQNet& host) {
  auto params = layer_params();
  if (host.num_layers() != params.size()) throw Error("QNetwork::copy_weights: host network has another shape");
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor* w = params[i].first;
    Tensor* b = params[i].second;
    // Host-visible memory (lavapipe, integrated GPUs, the CPU backend): read in place after one
    // sync instead of copying every tensor twice.
    if (w->device().allocator().host_visible()) {
      host.set_weights(i, w->data<float>(), b->data<float>());
    } else {
      std::vector<float> wv = w->to_vector(), bv = b->to_vector();
      host.set_weights(i, wv.data(), bv.data());
    }
  }
}

}  // namespace vkwb::agents
