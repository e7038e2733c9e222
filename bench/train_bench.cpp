// End-to-end training throughput: the same step as `vkwb train` (batch upload, forward, cross
// entropy, backward, optimizer), on pre-built batches, as the PyTorch peer measures it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <algorithm>
#include <random>

#include "bench/bench.h"
#include "engine/autograd.h"
#include "engine/kernels.h"
#include "engine/ops.h"
#include "engine/stream.h"
#include "nets/data/dataset.h"
#include "nets/models/models.h"
#include "nets/optim.h"
#include "nets/parallel.h"

namespace vkwb::bench {

double peak_rss_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

TrainBenchResult bench_train(Device& base, const TrainBenchOptions& o) {
  using clk = std::chrono::steady_clock;
  const std::string& model = o.model;
  const int batch = o.batch, steps = o.steps, S = o.image_size, C = o.channels;
  const bool profile = o.profile;
  const size_t pixels = size_t(C) * S * S;
  nn::models::ModelOptions mo;
  mo.width = o.width;
  mo.image_size = S;
  mo.in_channels = C;
  // One replica: the model on `base`. More: data-parallel replicas (nets/parallel.h), each
  // training on a shard of every batch; the figures are for the whole batch.
  std::vector<Device*> replicas = Device::open_replicas(base, o.replicas > 0 ? o.replicas : nn::auto_replicas(base, batch));
  const bool host_optimizer = nn::host_optimizer_pays(*replicas[0], int(replicas.size()));   // as `vkwb train` decides
  nn::DataParallel dp(replicas, 0,
                      [&](nn::ModuleContext& ctx) {
                        nn::ModulePtr m = nn::models::make_model(model, ctx, mo);
                        nn::set_linear_exec(*m, nn::trainer_linear_exec(*ctx.device, int(replicas.size())));   // as `vkwb train`
                        return m;
                      },
                      [&](std::vector<Tensor*> p) {
                        auto opt = nn::make_optimizer(o.optimizer, std::move(p), 0.f);   // its default lr (adam: 1e-3)
                        opt->set_host_update(host_optimizer);
                        return opt;
                      });
  dp.record_in_threads(nn::threaded_recording_pays(dp.size()));   // as `vkwb train`
  Device& dev = dp.device(0);
  const int R = dp.size();
  // The data: Fashion-MNIST as the PyTorch peer trains on it (pixels / 255, normalised with the
  // training set's mean and std, a seeded shuffle walked batch by batch; inference over the 10k
  // test images), or random images with random labels. The data matter for the speed: training
  // on 16 random batches over and over was not the peer's workload, and its steps slowed down as
  // the net fitted them (docs/PERFORMANCE.md).
  data::Dataset train_set, test_set;
  std::string dir = o.data_dir.empty() ? data::kDefaultFashionMnistDir : o.data_dir;
  bool real = o.data == "fashion-mnist" || (o.data == "auto" && C == 1 && S == 28);
  if (real) {
    try {
      train_set = data::load_fashion_mnist(dir, "train");
      test_set = data::load_fashion_mnist(dir, "test");
      data::ChannelStats st = data::compute_mean_std(train_set);
      data::normalize(train_set, st.mean, st.std);
      data::normalize(test_set, st.mean, st.std);
    } catch (const Error&) {
      if (o.data == "fashion-mnist") throw;
      real = false;
    }
    if (real && (C != 1 || S != 28)) throw Error("bench train: Fashion-MNIST is 1x28x28; use --data random for other shapes");
  }
  const int nb = 16;
  std::mt19937 g(0);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<std::vector<float>> xs;
  std::vector<std::vector<int32_t>> ys;
  std::vector<int64_t> perm;
  if (real) {
    perm.resize(size_t(train_set.n));
    for (int i = 0; i < train_set.n; ++i) perm[size_t(i)] = i;
    std::shuffle(perm.begin(), perm.end(), g);
  } else {
    xs.assign(nb, std::vector<float>(size_t(batch) * pixels));
    ys.assign(nb, std::vector<int32_t>(size_t(batch)));
    for (int i = 0; i < nb; ++i) {
      for (auto& v : xs[size_t(i)]) v = u(g);
      for (auto& v : ys[size_t(i)]) v = int32_t(g() % 10);
    }
  }
  std::vector<float> xb(static_cast<size_t>(batch) * pixels);
  std::vector<int32_t> yb(static_cast<size_t>(batch));
  int64_t cursor = 0;
  // The batch on the host: pre-built random batches, or the next images of the shuffle.
  auto next_batch = [&](int i) -> std::pair<const float*, const int32_t*> {
    if (!real) return {xs[size_t(i % nb)].data(), ys[size_t(i % nb)].data()};
    for (int b = 0; b < batch; ++b) {
      if (cursor >= train_set.n) cursor = 0;
      int64_t k = perm[size_t(cursor++)];
      std::copy(train_set.image(int(k)), train_set.image(int(k)) + pixels, xb.begin() + std::ptrdiff_t(size_t(b) * pixels));
      yb[size_t(b)] = train_set.labels[size_t(k)];
    }
    return {xb.data(), yb.data()};
  };
  auto step = [&](int i) {
    auto [xh, yh] = next_batch(i);
    auto losses = dp.step(i, batch, [&](int r, const nn::DataParallel::Shard& s) {
      Device& d = dp.device(r);
      Tensor x = Tensor::from(std::span<const float>(xh + size_t(s.begin) * pixels, size_t(s.count) * pixels), {s.count, C, S, S}, d);
      Tensor y = Tensor::from(std::span<const int32_t>(yh + s.begin, size_t(s.count)), {s.count}, d);
      return cross_entropy(dp.model(r).forward(x), y);
    });
    return losses[0];
  };
  const size_t before = dev.is_cpu() ? 0 : dev.kernels().size();
  auto tf = clk::now();
  step(0).item();
  const double first_ms = 1e3 * std::chrono::duration<double>(clk::now() - tf).count();
  for (int i = 1; i < 20; ++i) step(i);
  dp.sync();
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
  dp.sync();
  double el = std::chrono::duration<double>(clk::now() - t0).count();
  TrainBenchResult r{model, batch, steps * double(batch) / el, 1e3 * el / steps, 0, peak_rss_mib(), "", real ? "fashion-mnist" : "random", 1000,
                     first_ms, pipelines, warm_ms, R, dp.optimizer(0).host_update() && host_optim_supported(dev) ? "host" : "device"};
  if (profile && !dev.is_cpu()) {
    r.profile = dev.stream().timing_table();
    dev.stream().set_profiling(false);
  }
  // Inference, batch 1000 (halved until the activations fit one binding), no grad.
  {
    NoGradGuard ng;
    dp.train(false);
    std::vector<nn::Module*> models;
    for (int q = 0; q < R; ++q) models.push_back(&dp.model(q));
    nn::DeviceForwardScope device_fc(models);   // as `vkwb train` evaluates
    // Ten batches of 1000 (the test set, or random images), uploaded once; one pass to warm up,
    // then the median of three timed passes.
    // With replicas, batch i goes to replica i % R, in rounds of R batches: each round's work is
    // recorded and submitted on every replica before the host reads its predictions (reading
    // them frees the round's activations, so memory stays at one batch per replica).
    std::vector<Tensor> xi;
    for (int i = 0; i < 10; ++i) {
      std::vector<float> big(1000 * pixels);
      if (real) std::copy(test_set.image(i * 1000), test_set.image(i * 1000) + 1000 * pixels, big.begin());
      else for (auto& v : big) v = u(g);
      xi.push_back(Tensor::from(big, {1000, C, S, S}, dp.device(i % R)));
    }
    int ib = 1000;
    auto pass = [&] {
      auto t1 = clk::now();
      for (int b = 0; b < 1000; b += ib) {
        for (int i0 = 0; i0 < 10; i0 += R) {
          std::vector<Tensor> preds;
          for (int i = i0; i < std::min(10, i0 + R); ++i) {
            preds.push_back(argmax(dp.model(i % R).forward(xi[size_t(i)].slice(b, std::min(b + ib, 1000))), 1));
            dp.flush(i % R);
          }
          for (auto& p : preds) p.to_ivector();
        }
      }
      return 10 * 1000.0 / std::chrono::duration<double>(clk::now() - t1).count();
    };
    for (;;) {
      try {
        pass();
        break;
      } catch (const Error& e) {
        // A wide model's activations for 1000 images can exceed the device's binding limit.
        if (ib == 1 || std::string(e.what()).find("maxStorageBufferRange") == std::string::npos) throw;
        dp.sync();
        ib = std::max(1, ib / 2);
      }
    }
    r.inference_batch = ib;
    std::vector<double> rates = {pass(), pass(), pass()};
    std::sort(rates.begin(), rates.end());
    r.inference_images_per_sec = rates[1];
  }
  return r;
}

}  // namespace vkwb::bench
