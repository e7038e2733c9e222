// GEMM throughput and dispatch / submit latency.
#include <chrono>

#include "bench/bench.h"
#include "engine/kernels.h"
#include "engine/ops.h"
#include "engine/stream.h"

namespace vkwb::bench {

using clk = std::chrono::steady_clock;

std::vector<GemmRow> bench_gemm(Device& dev, const std::vector<std::vector<int>>& sizes, double seconds) {
  std::vector<GemmRow> rows;
  for (auto& s : sizes) {
    int M = s[0], N = s[1], K = s[2];
    Tensor a = Tensor::rand({M, K}, dev, 1), b = Tensor::rand({K, N}, dev, 2);
    Tensor c = matmul(a, b);   // warm-up: pipeline JIT happens at the first dispatch
    dev.sync();
    int reps = 0;
    auto t0 = clk::now();
    double el = 0;
    do {
      for (int i = 0; i < 4; ++i) c = matmul(a, b);
      dev.sync();
      reps += 4;
      el = std::chrono::duration<double>(clk::now() - t0).count();
    } while (el < seconds);
    double ms = 1e3 * el / reps;
    rows.push_back({M, N, K, ms, 2.0 * M * N * K / (ms * 1e-3) / 1e9});
  }
  return rows;
}

LatencyResult bench_latency(Device& dev) {
  LatencyResult r{};
  Tensor x = Tensor::zeros({1}, dev);
  for (int i = 0; i < 10; ++i) fill_(x, 1.0);
  dev.sync();
  // Dispatch cost: many tiny dispatches in one submission.
  const int n = 4000;
  auto t0 = clk::now();
  for (int i = 0; i < n; ++i) fill_(x, double(i));
  dev.sync();
  r.dispatch_us = 1e6 * std::chrono::duration<double>(clk::now() - t0).count() / n;
  // Submit + wait round trip of one tiny dispatch.
  const int m = 500;
  t0 = clk::now();
  for (int i = 0; i < m; ++i) {
    fill_(x, double(i));
    dev.sync();
  }
  r.submit_wait_us = 1e6 * std::chrono::duration<double>(clk::now() - t0).count() / m;
  return r;
}

}  // namespace vkwb::bench
