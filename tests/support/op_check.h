// Test support: compare an op on the device under test against the CPU reference backend, and
// check gradients by finite differences computed in double on the reference backend.
//   check_op("relu", [](auto& in) { return relu(in[0]); }, {rnd({7, 13})});
//   gradcheck("relu", [](auto& in) { return relu(in[0]); }, {rnd({7, 13})});
#pragma once
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "engine/tensor.h"

namespace vkwb::test {

// The device under test: $VKWB_DEVICE or the best one.
inline Device& gpu() { return Device::open(std::string()); }
inline Device& cpu() { return Device::cpu(); }

// Process-wide fixture: fails the run if any Vulkan validation message was seen.
struct ValidationGuard {
  ~ValidationGuard() {
    Device::close_all();
    uint64_t n = Device::total_validation_messages();
    if (n) {
      std::fprintf(stderr, "FAILED: %llu Vulkan validation message(s) (see 'vkwb: validation:' lines above)\n",
                   (unsigned long long)n);
      std::_Exit(3);
    }
  }
};

struct Input {
  Shape shape;
  std::vector<double> data;            // values (labels: integers)
  bool is_index = false;               // int32, never differentiated
  bool differentiable = true;
};

inline Input rnd(Shape s, uint64_t seed = 1, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 g(seed * 7919 + uint64_t(s.numel()));
  std::uniform_real_distribution<double> u(lo, hi);
  Input in{s, std::vector<double>(size_t(s.numel()))};
  for (auto& v : in.data) v = u(g);
  return in;
}
inline Input labels(int64_t n, int classes, uint64_t seed = 3) {
  std::mt19937_64 g(seed);
  Input in{Shape{n}, std::vector<double>(size_t(n)), true, false};
  for (auto& v : in.data) v = double(g() % uint64_t(classes));
  return in;
}
inline Input constant(Input in) {
  in.differentiable = false;
  return in;
}

inline Tensor make(const Input& in, Device& dev, DType ft) {
  if (in.is_index) return Tensor::from(std::vector<int32_t>(in.data.begin(), in.data.end()), in.shape, dev);
  if (ft == DType::f64) return Tensor::from(in.data, in.shape, dev);
  return Tensor::from(std::vector<float>(in.data.begin(), in.data.end()), in.shape, dev);
}

using OpFn = std::function<Tensor(std::vector<Tensor>&)>;

inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double atol, double rtol,
                        const std::string& what) {
  BOOST_REQUIRE_MESSAGE(got.size() == want.size(), what << ": size " << got.size() << " vs " << want.size());
  double worst = 0;
  size_t worst_i = 0, bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(got[i] - want[i]);
    double tol = atol + rtol * std::abs(want[i]);
    if (!(err <= tol)) {
      bad++;
      if (!(err / tol <= worst)) worst = err / tol, worst_i = i;
    }
  }
  BOOST_CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << got.size() << " values off; worst at " << worst_i
                                     << ": got " << (got.empty() ? 0 : got[worst_i]) << ", want "
                                     << (want.empty() ? 0 : want[worst_i]));
}

// Runs fn on the device under test (f32) and on the reference backend (f64); compares.
inline void check_op(const std::string& name, const OpFn& fn, const std::vector<Input>& inputs, double atol = 1e-4,
                     double rtol = 1e-4) {
  std::vector<Tensor> g, c;
  for (auto& in : inputs) {
    g.push_back(make(in, gpu(), DType::f32));
    c.push_back(make(in, cpu(), DType::f64));
  }
  Tensor yg = fn(g), yc = fn(c);
  BOOST_REQUIRE_MESSAGE(yg.shape() == yc.shape(), name << ": shape " << yg.shape().str() << " vs reference " << yc.shape().str());
  check_close(yg.to_dvector(), yc.to_dvector(), atol, rtol, name);
}

// L = sum(fn(inputs) * r) for fixed random weights r, so every output element matters.
inline Tensor weighted(const Tensor& y, Device& dev, DType ft) {
  Input r = rnd(y.shape(), 99, 0.5, 1.5);
  return sum(mul(y, make(r, dev, ft)));
}

// 1. analytic gradients on the reference backend in double vs central differences in double;
// 2. the device's analytic gradients (f32) vs the reference's (f64).
inline void gradcheck(const std::string& name, const OpFn& fn, const std::vector<Input>& inputs, double h = 1e-6,
                      double fd_tol = 1e-5, double dev_atol = 2e-3, double dev_rtol = 2e-3) {
  auto run = [&](Device& dev, DType ft, std::vector<Tensor>& ts) {
    ts.clear();
    for (auto& in : inputs) {
      Tensor t = make(in, dev, ft);
      if (!in.is_index && in.differentiable) t.requires_grad_();
      ts.push_back(t);
    }
    Tensor loss = weighted(fn(ts), dev, ft);
    loss.backward();
    return loss;
  };
  std::vector<Tensor> c, g;
  run(cpu(), DType::f64, c);
  run(gpu(), DType::f32, g);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].is_index || !inputs[i].differentiable) continue;
    BOOST_REQUIRE_MESSAGE(c[i].grad().defined(), name << ": input " << i << " got no gradient");
    std::vector<double> analytic = c[i].grad().to_dvector();
    std::vector<double> numeric(analytic.size());
    for (size_t k = 0; k < analytic.size(); ++k) {
      auto eval = [&](double delta) {
        NoGradGuard ng;
        std::vector<Tensor> ts;
        for (size_t j = 0; j < inputs.size(); ++j) {
          Input in = inputs[j];
          if (j == i) in.data[k] += delta;
          ts.push_back(make(in, cpu(), DType::f64));
        }
        return weighted(fn(ts), cpu(), DType::f64).to_dvector()[0];
      };
      numeric[k] = (eval(h) - eval(-h)) / (2 * h);
    }
    check_close(analytic, numeric, fd_tol, fd_tol, name + " d/input" + std::to_string(i) + " (reference vs finite differences)");
    BOOST_REQUIRE_MESSAGE(g[i].grad().defined(), name << ": device gave no gradient for input " << i);
    check_close(g[i].grad().to_dvector(), analytic, dev_atol, dev_rtol, name + " d/input" + std::to_string(i) + " (device vs reference)");
  }
}

}  // namespace vkwb::test
