#include "bench/selftest.h"

#include <cmath>
#include <functional>
#include <random>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace vkwb::bench {
namespace {

struct In {
  Shape shape;
  double lo = -1, hi = 1;
  int classes = 0;   // > 0: int32 labels in [0, classes)
};

using Fn = std::function<Tensor(std::vector<Tensor>&)>;

struct Case {
  std::string name;
  std::vector<In> inputs;
  Fn fn;
  double atol = 1e-4, rtol = 1e-4;
  bool grads = false;   // also compare the gradients of sum(fn * r)
};

std::vector<double> data_for(const In& in, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<double> v(size_t(in.shape.numel()));
  if (in.classes) {
    for (auto& x : v) x = double(g() % uint64_t(in.classes));
  } else {
    std::uniform_real_distribution<double> u(in.lo, in.hi);
    for (auto& x : v) x = u(g);
  }
  return v;
}

Tensor make(const In& in, const std::vector<double>& v, Device& dev, bool f64) {
  if (in.classes) return Tensor::from(std::vector<int32_t>(v.begin(), v.end()), in.shape, dev);
  if (f64) return Tensor::from(v, in.shape, dev);
  return Tensor::from(std::vector<float>(v.begin(), v.end()), in.shape, dev);
}

void compare(const std::vector<double>& got, const std::vector<double>& want, const Case& c, SelftestRow& row) {
  if (got.size() != want.size()) {
    row.pass = false;
    row.error = "size mismatch";
    return;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(got[i] - want[i]);
    row.max_abs = std::max(row.max_abs, err);
    row.max_rel = std::max(row.max_rel, err / std::max(std::abs(want[i]), 1e-12));
    if (!(err <= c.atol + c.rtol * std::abs(want[i]))) row.pass = false;
  }
}

std::vector<Case> cases() {
  std::vector<Case> v;
  auto unary = [&](std::string n, std::function<Tensor(const Tensor&)> f, double lo = -3, double hi = 3) {
    for (Shape s : {Shape{7}, Shape{13, 127}})
      v.push_back({n, {{s, lo, hi}}, [f](auto& in) { return f(in[0]); }, 1e-4, 1e-4, true});
  };
  unary("relu", [](auto& x) { return relu(x); });
  unary("leaky_relu", [](auto& x) { return leaky_relu(x, 0.1f); });
  unary("elu", [](auto& x) { return elu(x, 1.f); });
  unary("sigmoid", [](auto& x) { return sigmoid(x); });
  unary("tanh", [](auto& x) { return vkwb::tanh(x); });
  unary("softplus", [](auto& x) { return softplus(x); });
  unary("silu", [](auto& x) { return silu(x); });
  unary("gelu", [](auto& x) { return gelu(x); });
  unary("gelu_tanh", [](auto& x) { return gelu(x, true); });
  unary("exp", [](auto& x) { return vkwb::exp(x); });
  unary("log", [](auto& x) { return vkwb::log(x); }, 0.1, 4);
  unary("sqrt", [](auto& x) { return vkwb::sqrt(x); }, 0.1, 4);
  unary("abs", [](auto& x) { return vkwb::abs(x); });
  unary("clamp", [](auto& x) { return clamp(x, -0.5f, 1.f); });
  unary("pow", [](auto& x) { return vkwb::pow(x, 1.5f); }, 0.1, 4);
  for (auto [a, b] : {std::pair<Shape, Shape>{{13, 127}, {13, 127}}, {{7, 1, 13}, {5, 13}}}) {
    v.push_back({"add", {{a}, {b}}, [](auto& in) { return add(in[0], in[1]); }, 1e-5, 1e-5, true});
    v.push_back({"mul", {{a}, {b}}, [](auto& in) { return mul(in[0], in[1]); }, 1e-5, 1e-5, true});
    v.push_back({"div", {{a}, {b, 0.5, 2}}, [](auto& in) { return div(in[0], in[1]); }, 1e-4, 1e-4, true});
    v.push_back({"maximum", {{a}, {b}}, [](auto& in) { return maximum(in[0], in[1]); }, 1e-5, 1e-5, true});
  }
  for (Shape s : {Shape{7, 13}, Shape{3, 257, 5}, Shape{4097}}) {
    v.push_back({"sum", {{s}}, [](auto& in) { return sum(in[0], 0); }, 1e-3, 1e-4, true});
    v.push_back({"mean", {{s}}, [](auto& in) { return mean(in[0], -1); }, 1e-4, 1e-4, true});
    v.push_back({"max", {{s}}, [](auto& in) { return vkwb::max(in[0], 0); }, 1e-6, 1e-6, true});
    v.push_back({"argmax", {{s}}, [](auto& in) { return argmax(in[0], -1); }, 0, 0});
    v.push_back({"var", {{s}}, [](auto& in) { return var(in[0], 0); }, 1e-3, 1e-3, true});
    v.push_back({"softmax", {{s, -5, 5}}, [](auto& in) { return softmax(in[0], 0); }, 1e-5, 1e-4, true});
    v.push_back({"log_softmax", {{s, -5, 5}}, [](auto& in) { return log_softmax(in[0], -1); }, 1e-4, 1e-4, true});
  }
  struct G { int M, N, K; };
  for (auto g : {G{1, 1, 1}, G{7, 13, 5}, G{127, 129, 33}, G{257, 65, 300}}) {
    v.push_back({"matmul", {{{g.M, g.K}}, {{g.K, g.N}}}, [](auto& in) { return matmul(in[0], in[1]); }, 1e-4, 1e-4, true});
    v.push_back({"matmul^T", {{{g.K, g.M}}, {{g.N, g.K}}},
                 [](auto& in) { return matmul(in[0], in[1], {.trans_a = true, .trans_b = true}); }, 1e-4, 1e-4, true});
    v.push_back({"linear", {{{g.M, g.K}}, {{g.N, g.K}}, {{g.N}}}, [](auto& in) { return linear(in[0], in[1], in[2]); }, 1e-4, 1e-4, true});
  }
  v.push_back({"conv2d", {{{2, 1, 28, 28}}, {{6, 1, 5, 5}}, {{6}}}, [](auto& in) { return conv2d(in[0], in[1], in[2], {.pad_h = 2, .pad_w = 2}); }, 1e-4, 1e-4, true});
  v.push_back({"conv2d s2 g2", {{{2, 4, 13, 11}}, {{6, 2, 3, 3}}, {{6}}},
               [](auto& in) { return conv2d(in[0], in[1], in[2], {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 2}); }, 1e-4, 1e-4, true});
  v.push_back({"conv_transpose2d", {{{2, 4, 5, 6}}, {{4, 3, 3, 3}}, {{3}}},
               [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .out_pad_h = 1, .out_pad_w = 1}); },
               1e-4, 1e-4, true});
  v.push_back({"max_pool2d", {{{2, 3, 13, 11}}}, [](auto& in) { return max_pool2d(in[0], {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}); }, 1e-6, 1e-6, true});
  v.push_back({"avg_pool2d", {{{2, 3, 13, 11}}}, [](auto& in) { return avg_pool2d(in[0], {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}); }, 1e-5, 1e-5, true});
  v.push_back({"permute", {{{3, 5, 7, 2}}}, [](auto& in) { return permute(in[0], {2, 0, 3, 1}); }, 1e-6, 1e-6, true});
  v.push_back({"concat", {{{3, 5, 7}}, {{3, 2, 7}}}, [](auto& in) { return concat({in[0], in[1]}, 1); }, 1e-6, 1e-6, true});
  v.push_back({"gather", {{{13, 10}}, {{13, 1}, 0, 0, 10}}, [](auto& in) { return gather(in[0], 1, in[1]); }, 1e-6, 1e-6, true});
  v.push_back({"cross_entropy", {{{13, 10}, -3, 3}, {{13}, 0, 0, 10}}, [](auto& in) { return cross_entropy(in[0], in[1], 0.1f); }, 1e-5, 1e-5, true});
  v.push_back({"mse_loss", {{{7, 13}}, {{7, 13}}}, [](auto& in) { return mse_loss(in[0], in[1]); }, 1e-5, 1e-5, true});
  v.push_back({"bce_with_logits", {{{7, 13}, -3, 3}, {{7, 13}, 0, 1}}, [](auto& in) { return bce_with_logits(in[0], in[1]); }, 1e-5, 1e-5, true});
  v.push_back({"huber_loss", {{{7, 13}, -3, 3}, {{7, 13}}}, [](auto& in) { return huber_loss(in[0], in[1]); }, 1e-5, 1e-5, true});
  v.push_back({"multi_margin", {{{13, 10}}, {{13}, 0, 0, 10}}, [](auto& in) { return multi_margin_loss(in[0], in[1]); }, 1e-5, 1e-5, true});
  v.push_back({"batch_norm", {{{4, 3, 5, 7}}, {{3}, 0.5, 1.5}, {{3}}},
               [](auto& in) { Tensor rm, rv; return batch_norm(in[0], rm, rv, in[1], in[2], true); }, 1e-4, 1e-4, true});
  v.push_back({"local_response_norm", {{{2, 5, 3, 4}}}, [](auto& in) { return local_response_norm(in[0], 3, 0.1f); }, 1e-5, 1e-4, true});
  v.push_back({"rand (philox)", {}, [](auto& in) {
                 (void)in;
                 return Tensor::rand({1001}, Device::cpu(), 0);   // replaced per device below
               }, 1e-6, 1e-6});
  return v;
}

std::string shapes_of(const Case& c) {
  std::string s;
  for (auto& in : c.inputs) s += (s.empty() ? "" : " ") + in.shape.str();
  return s;
}

}  // namespace

std::vector<SelftestRow> run_selftest(Device& dev) {
  std::vector<SelftestRow> rows;
  Device& ref = Device::cpu();
  uint64_t seed = 1;
  for (Case c : cases()) {
    SelftestRow row;
    row.kernel = c.name;
    row.shapes = shapes_of(c);
    row.pass = true;
    try {
      if (c.name.rfind("rand", 0) == 0) {
        row.shapes = "[1001]";
        compare(Tensor::rand({1001}, dev, 7, -1, 2).to_dvector(), Tensor::rand({1001}, ref, 7, -1, 2).to_dvector(), c, row);
        rows.push_back(row);
        continue;
      }
      std::vector<std::vector<double>> data;
      for (auto& in : c.inputs) data.push_back(data_for(in, seed++));
      std::vector<Tensor> td, tr;
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        td.push_back(make(c.inputs[i], data[i], dev, false));
        tr.push_back(make(c.inputs[i], data[i], ref, true));
        if (c.grads && !c.inputs[i].classes) {
          td.back().requires_grad_();
          tr.back().requires_grad_();
        }
      }
      Tensor yd = c.fn(td), yr = c.fn(tr);
      compare(yd.to_dvector(), yr.to_dvector(), c, row);
      if (c.grads && yd.requires_grad()) {
        std::vector<double> w(size_t(yr.numel()));
        std::mt19937_64 g(99);
        for (auto& x : w) x = 0.5 + double(g() % 1000) / 1000.0;
        sum(mul(yd, Tensor::from(std::vector<float>(w.begin(), w.end()), yd.shape(), dev))).backward();
        sum(mul(yr, Tensor::from(w, yr.shape(), ref))).backward();
        Case gc = c;
        gc.atol = std::max(c.atol, 1e-3);
        gc.rtol = std::max(c.rtol, 1e-3);
        for (size_t i = 0; i < td.size(); ++i)
          if (td[i].requires_grad() && tr[i].grad().defined()) compare(td[i].grad().to_dvector(), tr[i].grad().to_dvector(), gc, row);
        row.kernel += " +grad";
      }
    } catch (const std::exception& e) {
      row.pass = false;
      row.error = e.what();
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkwb::bench
