// linear() on the host (LinearExec::host_wgrad, LinearExec::host): the host GEMMs against a double
// reference and against the device kernels bit for bit, the autograd deferral (accumulation,
// shared and non-leaf weights, repeated backward) giving exactly what the device path gives, and
// Tensor::data_ready.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstring>

#include "engine/autograd.h"
#include "engine/memory.h"
#include "engine/ops/gemm.h"
#include "engine/stream.h"
#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::test;

namespace {

std::vector<float> floats(const Input& in) { return {in.data.begin(), in.data.end()}; }

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Grads { std::vector<float> x, w, b, y; };

// y = relu(x W^T + b) (or plain), loss = sum(y * r); the gradients of x, W, b.
Grads linear_grads(int N, int in, int out, bool relu, LinearExec mode) {
  Device& dev = gpu();
  Tensor x = make(rnd({N, in}, 1), dev, DType::f32).requires_grad_();
  Tensor w = make(rnd({out, in}, 2), dev, DType::f32).requires_grad_();
  Tensor b = make(rnd({out}, 3), dev, DType::f32).requires_grad_();
  Tensor r = make(rnd({N, out}, 4), dev, DType::f32);
  Tensor y = linear(x, w, b, relu ? Epilogue::relu : Epilogue::none, mode);
  sum(mul(y, r)).backward();
  return {x.grad().to_vector(), w.grad().to_vector(), b.grad().to_vector(), y.to_vector()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(host_linear)

BOOST_AUTO_TEST_CASE(host_gemm_matches_reference) {
  // Register-tile multiples, tails in M and N, K of 1; every vector path the CPU has.
  const int best = detail::host_gemm_isa();
  for (int isa = best; isa >= 0; --isa)
  for (auto [M, N, K] : {std::tuple{4, 16, 3}, {13, 37, 5}, {128, 1024, 32}, {3, 7, 1}, {9, 33, 64}, {84, 120, 32},
                         {10, 84, 32}, {5, 47, 9}, {6, 24, 2}}) {
    BOOST_TEST(detail::host_gemm_isa(isa) == isa);
    Input a = rnd({K, M}, 5), b = rnd({K, N}, 6);
    std::vector<float> A = floats(a), B = floats(b), C(size_t(M) * N, -1.f), S(C.size());
    detail::host_gemm_tn(M, N, K, A.data(), B.data(), C.data());
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double ref = 0;
        float chain = 0.f;   // the product rounded, then the add
        for (int k = 0; k < K; ++k) {
          ref += double(A[size_t(k) * M + m]) * B[size_t(k) * N + n];
          volatile float prod = A[size_t(k) * M + m] * B[size_t(k) * N + n];
          chain = chain + prod;
        }
        S[size_t(m) * N + n] = chain;
        BOOST_TEST(std::abs(C[size_t(m) * N + n] - ref) <= 1e-5 * (1 + std::abs(ref)));
      }
    // The vector path is the same chain as the scalar one, element for element.
    BOOST_TEST(same_bits(C, S), "isa " << isa << " M " << M << " N " << N << " K " << K);
  }
  detail::host_gemm_isa(best);
}

BOOST_AUTO_TEST_CASE(host_equals_device) {
  if (!host_linear_supported(gpu())) {
    BOOST_TEST_MESSAGE("host linear unsupported on " << gpu().name() << ": checking the fallback only");
  }
  // The DQN's fc1 (N 32, in 1024, out 128), odd sizes, a single row.
  for (auto [N, in, out] : {std::tuple{32, 1024, 128}, {33, 1023, 13}, {1, 5, 3}, {7, 17, 9}, {64, 256, 120}})
    for (bool relu : {true, false})
    for (LinearExec mode : {LinearExec::host_wgrad, LinearExec::host}) {
      BOOST_TEST_CONTEXT("N " << N << " in " << in << " out " << out << " relu " << relu << " mode " << int(mode)) {
      Grads d = linear_grads(N, in, out, relu, LinearExec::device);
      Grads h = linear_grads(N, in, out, relu, mode);
      BOOST_TEST(same_bits(d.y, h.y));
      BOOST_TEST(same_bits(d.w, h.w));
      BOOST_TEST(same_bits(d.x, h.x));
      BOOST_TEST(same_bits(d.b, h.b));
      // And right: against the double reference within float tolerance.
      double worst = 0;
      Input x = rnd({N, in}, 1), w = rnd({out, in}, 2), b = rnd({out}, 3), r = rnd({N, out}, 4);
      for (int o = 0; o < out; ++o)
        for (int i = 0; i < in; ++i) {
          double gw = 0;
          for (int n = 0; n < N; ++n) {
            double z = b.data[o];
            for (int j = 0; j < in; ++j) z += x.data[size_t(n) * in + j] * w.data[size_t(o) * in + j];
            double gy = (relu && z <= 0) ? 0 : r.data[size_t(n) * out + o];
            gw += gy * x.data[size_t(n) * in + i];
          }
          worst = std::max(worst, std::abs(gw - h.w[size_t(o) * in + i]) / (1 + std::abs(gw)));
          if (N * in * out > 200000 && i > 8) break;   // keep the O(N in^2 out) reference cheap
        }
      BOOST_TEST(worst < 1e-4);
      }
    }
}

BOOST_AUTO_TEST_CASE(deferred_gradients_accumulate) {
  Device& dev = gpu();
  // (a) W used twice (accumulation of a pending gradient), (b) backward twice without zeroing
  // (the leaf's existing grad), (c) W computed from a parameter (a pending gradient flowing into
  // another node's backward), (d) a later op reading the gradient after backward.
  auto run = [&](LinearExec mode) {
    Tensor x = make(rnd({6, 8}, 11), dev, DType::f32).requires_grad_();
    Tensor w = make(rnd({8, 8}, 12), dev, DType::f32).requires_grad_();
    Tensor p = make(rnd({5, 8}, 13), dev, DType::f32).requires_grad_();
    std::vector<float> out;
    for (int rep = 0; rep < 2; ++rep) {
      Tensor h = linear(x, w, Tensor(), Epilogue::relu, mode);
      Tensor y = linear(h, w, Tensor(), Epilogue::none, mode);
      Tensor z = linear(y, mul(p, 2.f), Tensor(), Epilogue::relu, mode);
      sum(mul(z, z)).backward();
    }
    for (const Tensor& g : {x.grad(), w.grad(), p.grad(), sum(mul(w.grad(), w.grad()))}) {
      auto v = g.to_vector();
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  };
  auto d = run(LinearExec::device), h = run(LinearExec::host_wgrad), a = run(LinearExec::host);
  BOOST_TEST(same_bits(d, h));
  BOOST_TEST(same_bits(d, a));
  // The gradients are not all zero (the test would pass vacuously otherwise).
  double norm = 0;
  for (float v : h) norm += std::abs(v);
  BOOST_TEST(norm > 1.0);
}

BOOST_AUTO_TEST_CASE(gradcheck_host_wgrad) {
  gradcheck("linear+relu host_wgrad",
            [](auto& in) { return linear(in[0], in[1], in[2], Epilogue::relu, LinearExec::host_wgrad); },
            {rnd({7, 5}, 13), rnd({6, 5}, 14), rnd({6}, 15)});
  gradcheck("linear+relu host",
            [](auto& in) { return linear(in[0], in[1], in[2], Epilogue::relu, LinearExec::host); },
            {rnd({7, 5}, 13), rnd({6, 5}, 14), rnd({6}, 15)});
  gradcheck("linear host", [](auto& in) { return linear(in[0], in[1], in[2], Epilogue::none, LinearExec::host); },
            {rnd({9, 17}, 16), rnd({5, 17}, 17), rnd({5}, 18)});
}

BOOST_AUTO_TEST_CASE(stream_epochs) {
  Device& dev = gpu();
  if (!dev.allocator().host_visible()) return;   // reads the mapped memory
  Tensor a = make(rnd({257}, 21), dev, DType::f32);
  Tensor b = add(a, a);
  uint64_t e = dev.stream().flush_epoch();
  BOOST_TEST(e > 0);
  Tensor c = mul(b, 3.f);   // recorded after the epoch: not waited for
  dev.stream().wait_epoch(e);
  const float* pb = b.data<float>(true);
  auto va = a.to_vector();
  for (size_t i = 0; i < va.size(); ++i) BOOST_TEST(pb[i] == va[i] + va[i]);
  auto vc = c.to_vector();
  BOOST_TEST(vc[5] == (va[5] + va[5]) * 3.f);
}

// Tensor::data_ready waits for the recorded work touching the tensor (kernels and copies stamp
// its storage) and leaves later, unrelated work recording.
BOOST_AUTO_TEST_CASE(data_ready_waits_for_the_tensor_only) {
  Device& dev = gpu();
  if (!dev.allocator().host_visible()) return;
  const std::vector<float> va = floats(rnd({300}, 31));
  Tensor a = make(rnd({300}, 31), dev, DType::f32);
  Tensor d = Tensor::zeros({300}, dev);
  dev.stream().flush_epoch();                // d's fill in an earlier submission than its copy
  Tensor big = make(rnd({384, 384}, 32), dev, DType::f32);
  Tensor slow = matmul(big, big);            // milliseconds of work ahead of b and the copy
  Tensor b = add(a, a);                      // a kernel writes b
  copy_(d, b);                               // a copy writes d
  dev.stream().flush_epoch();
  Tensor c = mul(a, 3.f);                    // recorded after: not needed for b or d
  const uint64_t submits = dev.stream().submits();
  // Each read before anything else waits for the stream (d first: b's wait covers the copy).
  const float* pd = d.data_ready<float>();
  const std::vector<float> got_d(pd, pd + 300);
  const float* pb = b.data_ready<float>();
  const std::vector<float> got_b(pb, pb + 300);
  BOOST_TEST(dev.stream().submits() == submits);   // c is still being recorded
  for (size_t i = 0; i < va.size(); ++i) {
    BOOST_TEST(got_b[i] == va[i] + va[i]);
    BOOST_TEST(got_d[i] == va[i] + va[i]);
  }
  const float* pc = c.data_ready<float>();   // submits and waits for c's batch
  BOOST_TEST(pc[7] == va[7] * 3.f);
  Tensor fresh = Tensor::empty({5}, dev);     // never touched by the device: no wait at all
  BOOST_TEST(fresh.impl()->storage->last_epoch == 0u);
}


// DeferredHostGrads: the backward passes run while it lives leave their host tasks to it (their
// gradients unwritten until run()), and the gradients are then exactly the device path's. Two
// separate losses, as two data-parallel replicas would have.
BOOST_AUTO_TEST_CASE(deferred_host_grads_wait_for_the_scope) {
  Device& dev = gpu();
  auto run = [&](LinearExec mode, bool scoped) {
    Tensor x1 = make(rnd({6, 9}, 31), dev, DType::f32), x2 = make(rnd({5, 9}, 32), dev, DType::f32);
    Tensor w1 = make(rnd({4, 9}, 33), dev, DType::f32).requires_grad_();
    Tensor w2 = make(rnd({4, 9}, 34), dev, DType::f32).requires_grad_();
    Tensor l1 = sum(linear(x1, w1, Tensor(), Epilogue::relu, mode));
    Tensor l2 = sum(linear(x2, w2, Tensor(), Epilogue::none, mode));
    std::vector<float> out;
    if (scoped) {
      DeferredHostGrads deferred;
      l1.backward();
      l2.backward();
      // The host tasks (one weight gradient per loss) wait for run().
      BOOST_TEST(deferred.pending() == (mode != LinearExec::device && host_linear_supported(dev) ? 2u : 0u));
      deferred.run();
      BOOST_TEST(deferred.pending() == 0u);
    } else {
      l1.backward();
      l2.backward();
    }
    for (const Tensor& g : {w1.grad(), w2.grad()}) {
      auto v = g.to_vector();
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  };
  auto d = run(LinearExec::device, false);
  BOOST_TEST(same_bits(d, run(LinearExec::host_wgrad, true)));
  BOOST_TEST(same_bits(d, run(LinearExec::host_wgrad, false)));
  BOOST_TEST(same_bits(d, run(LinearExec::device, true)));
}

// cross_entropy's host path (logits the host wrote, on a CPU driver) against its device ops and a
// double reference: the loss and the gradient, with and without label smoothing, odd sizes. The
// host path's whole forward and backward stays off the device: the gradient it leaves is
// host-resident (no device command touched it), and so is a host linear head's.
BOOST_AUTO_TEST_CASE(host_cross_entropy_matches_device) {
  Device& dev = gpu();
  const bool host_ok = host_loss_enabled(make(rnd({2, 3}, 40), dev, DType::f32));
  if (!host_ok) BOOST_TEST_MESSAGE("no host loss on " << dev.name() << ": checking the device path only");
  for (auto [N, C] : {std::pair{7, 10}, {33, 3}, {1, 1}, {64, 10}, {5, 257}})
    for (float eps : {0.f, 0.1f}) {
      BOOST_TEST_CONTEXT("N " << N << " C " << C << " smoothing " << eps) {
        Input z = rnd({N, C}, 41, -6, 6), y = labels(N, C, 42);
        // The double reference.
        double ref_loss = 0;
        std::vector<double> ref_grad(size_t(N) * C);
        for (int i = 0; i < N; ++i) {
          double m = -1e300, s = 0, row = 0;
          for (int j = 0; j < C; ++j) m = std::max(m, double(float(z.data[size_t(i) * C + j])));
          for (int j = 0; j < C; ++j) s += std::exp(double(float(z.data[size_t(i) * C + j])) - m);
          const double lse = m + std::log(s);
          const int t = int(y.data[size_t(i)]);
          for (int j = 0; j < C; ++j) {
            const double lp = double(float(z.data[size_t(i) * C + j])) - lse;
            row += lp;
            ref_grad[size_t(i) * C + j] = (std::exp(lp) - eps / C - (j == t ? 1.0 - eps : 0.0)) / N;
          }
          ref_loss += (-(1.0 - eps) * (double(float(z.data[size_t(i) * C + t])) - lse) - eps / C * row) / N;
        }
        auto run = [&](bool host) {
          Tensor x = make(z, dev, DType::f32).requires_grad_();
          Tensor lab = make(y, dev, DType::f32);
          Tensor in = host ? x : mul(x, 1.f);   // (x 1 is exact; a device op touched it)
          BOOST_TEST(host_loss_enabled(in) == (host && host_ok));
          Tensor loss = cross_entropy(in, lab, eps);
          BOOST_TEST(loss.dim() == 0);
          loss.backward();
          if (host && host_ok) BOOST_TEST(x.grad().host_resident());
          return std::pair{double(loss.to_vector()[0]), x.grad().to_vector()};
        };
        for (bool host : {false, true}) {
          auto [loss, grad] = run(host);
          BOOST_TEST(std::abs(loss - ref_loss) <= 2e-6 * (1 + std::abs(ref_loss)), "host " << host << ": loss " << loss << " vs " << ref_loss);
          double worst = 0;
          for (size_t k = 0; k < grad.size(); ++k) worst = std::max(worst, std::abs(grad[k] - ref_grad[k]));
          BOOST_TEST(worst <= 2e-7, "host " << host << ": gradient off by " << worst);
        }
      }
    }
  if (host_ok) {
    // A label outside [0, C) is an error naming it (the device's gather has no such check).
    Tensor x = make(rnd({3, 4}, 43), dev, DType::f32);
    Tensor bad = Tensor::from(std::vector<int32_t>{0, 4, 1}, {3}, dev);
    BOOST_CHECK_EXCEPTION(cross_entropy(x, bad), Error, [](const Error& e) {
      return std::string(e.what()).find("label 4 of row 1 is outside [0, 4)") != std::string::npos;
    });
    // A host linear head and the host loss: no device work from the logits to the head's input
    // gradient.
    Tensor h = make(rnd({6, 9}, 44), dev, DType::f32).requires_grad_();
    Tensor w1 = make(rnd({8, 9}, 45), dev, DType::f32).requires_grad_();
    Tensor b1 = make(rnd({8}, 46), dev, DType::f32).requires_grad_();
    Tensor w2 = make(rnd({5, 8}, 47), dev, DType::f32).requires_grad_();
    Tensor logits = linear(linear(h, w1, b1, Epilogue::relu, LinearExec::host), w2, Tensor(), Epilogue::none, LinearExec::host);
    BOOST_TEST(host_loss_enabled(logits) == host_linear_supported(dev));
    cross_entropy(logits, make(labels(6, 5, 48), dev, DType::f32)).backward();
    if (host_linear_supported(dev)) {
      BOOST_TEST(h.grad().host_resident());
      BOOST_TEST(b1.grad().host_resident());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
