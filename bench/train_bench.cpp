// End-to-end training throughput: the same step as `vkwb train` (batch upload, forward, cross
// entropy, backward, optimizer), on pre-built batches, as the PyTorch peer measures it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

#include "bench/bench.h"
#include "engine/autograd.h"
#include "engine/kernels.h"
#include "engine/ops.h"
#include "engine/stream.h"
#include "nets/models/models.h"
#include "nets/optim.h"

namespace vkwb::bench {

double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

TrainBenchResult bench_train(Device& dev, const TrainBenchOptions& o) {
  using clk = std::chrono::steady_clock;
  const std::string& model = o.model;
  const int batch = o.batch, steps = o.steps, S = o.image_size, C = o.channels;
  const bool profile = o.profile;
  const size_t pixels = size_t(C) * S * S;
  nn::ModuleContext ctx(dev, 0);
  nn::models::ModelOptions mo;
  mo.width = o.width;
  mo.image_size = S;
  mo.in_channels = C;
  auto net = nn::models::make_model(model, ctx, mo);
  auto opt = nn::make_optimizer(o.optimizer, net->parameters(), 0.f);   // the optimizer's default lr (adam: 1e-3)
  const int nb = 16;
  std::mt19937 g(0);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<float>> xs(nb, std::vector<float>(size_t(batch) * pixels));
  std::vector<std::vector<int32_t>> ys(nb, std::vector<int32_t>(size_t(batch)));
  for (int i = 0; i < nb; ++i) {
    for (auto& v : xs[i]) v = u(g);
    for (auto& v : ys[i]) v = int32_t(g() % 10);
  }
  auto step = [&](int i) {
    Tensor x = Tensor::from(xs[size_t(i % nb)], {batch, C, S, S}, dev);
    Tensor y = Tensor::from(ys[size_t(i % nb)], {batch}, dev);
    Tensor loss = cross_entropy(net->forward(x), y);
    opt->zero_grad();
    loss.backward();
    opt->step();
    return loss;
  };
  const size_t before = dev.is_cpu() ? 0 : dev.kernels().size();
  auto tf = clk::now();
  step(0).item();
  const double first_ms = 1e3 * std::chrono::duration<double>(clk::now() - tf).count();
  for (int i = 1; i < 20; ++i) step(i);
  dev.sync();
  size_t pipelines = 0;
  double warm_ms = 0;
  if (!dev.is_cpu()) {
    auto keys = dev.kernels().keys();
    keys.erase(keys.begin(), keys.begin() + std::ptrdiff_t(before));
    pipelines = keys.size();
    {
      KernelCache fresh(dev, /*disk_cache=*/false);   // cold, and nothing written
      auto tw = clk::now();
      fresh.warm_up(keys);
      warm_ms = 1e3 * std::chrono::duration<double>(clk::now() - tw).count();
    }
  }
  if (profile && !dev.is_cpu()) {
    dev.stream().set_profiling(true);
    dev.stream().reset_timings();
  }
  auto t0 = clk::now();
  Tensor last;
  for (int i = 0; i < steps; ++i) {
    last = step(i);
    // A real training loop reads the loss now and then; do it as often as `vkwb train` does.
    if (i % 50 == 49) last.item();
  }
  last.item();
  double el = std::chrono::duration<double>(clk::now() - t0).count();
  TrainBenchResult r{model, batch, steps * double(batch) / el, 1e3 * el / steps, 0, peak_rss_mib(), "", first_ms, pipelines, warm_ms};
  if (profile && !dev.is_cpu()) {
    r.profile = dev.stream().timing_table();
    dev.stream().set_profiling(false);
  }
  // Inference, batch 1000, no grad.
  {
    NoGradGuard ng;
    net->eval();
    std::vector<float> big(1000 * pixels);
    for (auto& v : big) v = u(g);
    Tensor x = Tensor::from(big, {1000, C, S, S}, dev);
    argmax(net->forward(x), 1).to_ivector();
    auto t1 = clk::now();
    const int reps = 10;
    for (int i = 0; i < reps; ++i) argmax(net->forward(x), 1).to_ivector();
    r.inference_images_per_sec = reps * 1000.0 / std::chrono::duration<double>(clk::now() - t1).count();
  }
  return r;
}

}  // namespace vkwb::bench
