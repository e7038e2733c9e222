#include "bench/dqn_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <span>
#include <tuple>

#include "agents/dqn.h"
#include "agents/host_q_net.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/stream.h"
#include "nets/data/host_rng.h"
#include "nets/layers.h"
#include "nets/optim.h"
#include "nets/parallel.h"

namespace vkwb::bench {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kB = 32, kC = 4, kH = 10, kW = 10, kA = 6;

// The MinAtar Q-network as in dqn.py (and agents::QNetwork with kind "conv").
struct Net {
  std::shared_ptr<nn::Sequential> seq, trunk, head;   // seq = trunk then head
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::Linear> fc1, fc2;
  Net(Device& dev, uint64_t seed) {
    nn::ModuleContext ctx(dev, seed);
    build(ctx);
  }
  explicit Net(nn::ModuleContext& ctx) { build(ctx); }
  void build(nn::ModuleContext& ctx) {
    conv = std::make_shared<nn::Conv2d>(ctx, nn::Conv2dOptions{.in = kC, .out = 16, .kernel = 3});
    fc1 = std::make_shared<nn::Linear>(ctx, 16 * 8 * 8, 128);
    fc2 = std::make_shared<nn::Linear>(ctx, 128, kA);
    trunk = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{conv, nn::ReLU(), std::make_shared<nn::Flatten>()});
    head = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{fc1, nn::ReLU(), fc2});
    seq = std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{trunk, head});
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<float> binary(HostRng& rng, size_t n, double p) {
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform() < p ? 1.f : 0.f;
  return v;
}

void fill_host(agents::HostQNet& h, Net& n) {
  std::vector<std::pair<Tensor*, Tensor*>> layers = {{&n.conv->weight(), nullptr},
                                                      {&n.fc1->weight(), n.fc1->bias()},
                                                      {&n.fc2->weight(), n.fc2->bias()}};
  auto conv_params = n.conv->named_parameters();
  for (auto& [name, t] : conv_params)
    if (name == "bias") layers[0].second = t;
  for (size_t i = 0; i < layers.size(); ++i) {
    std::vector<float> w = layers[i].first->to_vector(), b = layers[i].second->to_vector();
    h.set_weights(i, w.data(), b.data());
  }
}

}  // namespace

DqnBenchResult bench_dqn(Device& dev, const DqnBenchOptions& opt) {
  DqnBenchResult r;
  r.device = dev.name();
  r.optimizer = opt.optimizer;
  if (opt.optimizer != "rmsprop" && opt.optimizer != "adam")
    throw Error("bench dqn: optimizer must be rmsprop or adam, got '" + opt.optimizer + "'");
  if (opt.updates < 1 || opt.reps < 1 || opt.warmup < 0 || opt.latency_calls < 1)
    throw Error("bench dqn: updates, reps and latency_calls must be >= 1, warmup >= 0");
  if (opt.target != "auto" && opt.target != "host" && opt.target != "device")
    throw Error("bench dqn: target must be auto, host or device, got '" + opt.target + "'");
  r.target = opt.target == "auto" ? agents::auto_target_net(dev) : opt.target;
  const bool host_target = r.target == "host";
  if (opt.optimizer_on != "auto" && opt.optimizer_on != "host" && opt.optimizer_on != "device")
    throw Error("bench dqn: optimizer_on must be auto, host or device, got '" + opt.optimizer_on + "'");
  r.optimizer_on = opt.optimizer_on != "auto" ? opt.optimizer_on : agents::use_host_optimizer(dev, opt.replicas) ? "host" : "device";
  const LinearExec fc1_exec =
      opt.fc1 == "auto" ? agents::hidden_linear_exec(dev, opt.replicas) : parse_linear_exec(opt.fc1, "bench dqn --fc1");
  r.fc1 = linear_exec_name(fc1_exec);
  // The online network and its optimizer on each data-parallel replica (one: on `dev` itself),
  // each replica with its own target network and its shard of every batch.
  std::vector<std::shared_ptr<Net>> nets;
  nn::DataParallel dp(Device::open_replicas(dev, opt.replicas), 1,
                      [&](nn::ModuleContext& ctx) {
                        nets.push_back(std::make_shared<Net>(ctx));
                        nets.back()->fc1->set_exec(fc1_exec);
                        return nn::ModulePtr(nets.back()->seq);
                      },
                      [&](std::vector<Tensor*> p) -> std::unique_ptr<nn::Optimizer> {
                        std::unique_ptr<nn::Optimizer> o;
                        if (opt.optimizer == "adam") o = std::make_unique<nn::Adam>(std::move(p), nn::AdamOptions{.lr = 2.5e-4f});
                        else o = std::make_unique<nn::RMSprop>(std::move(p), nn::RMSpropOptions{.lr = 2.5e-4f, .alpha = 0.95f, .eps = 0.01f});
                        o->set_host_update(r.optimizer_on == "host");
                        return o;
                      });
  const int R = dp.size();
  r.replicas = R;
  Net& online = *nets[0];
  Device& dev0 = dp.device(0);
  std::vector<std::shared_ptr<Net>> targets;
  for (int q = 0; q < R; ++q) {
    targets.push_back(std::make_shared<Net>(dp.device(q), 1));
    targets.back()->seq->load_state_dict(nets[size_t(q)]->seq->state_dict());
  }

  struct Batch { Tensor s, a, r, s2, d; };
  struct HostBatch { std::vector<float> s2, r, d; };   // what the host target needs
  std::vector<HostBatch> host_batches;
  std::vector<std::vector<Batch>> batches(static_cast<size_t>(R));   // [replica][batch]: its shard
  HostRng rng(0);
  const auto shards = dp.shards(kB);
  const size_t obs_size = size_t(kC) * kH * kW;
  for (int i = 0; i < 64; ++i) {
    auto s = binary(rng, size_t(kB) * obs_size, 0.1), s2 = binary(rng, size_t(kB) * obs_size, 0.1);
    std::vector<int32_t> a(kB);
    for (auto& x : a) x = int32_t(rng.below(kA));
    std::vector<float> rew(kB);
    for (auto& x : rew) x = float(rng.normal());
    auto d = binary(rng, kB, 0.05);
    host_batches.push_back({s2, rew, d});
    for (int q = 0; q < R; ++q) {
      const int b0 = shards[size_t(q)].begin, n = shards[size_t(q)].count;
      Device& dq = dp.device(q);
      auto rows = [&](const auto& v, size_t width) { return std::span(v.data() + size_t(b0) * width, size_t(n) * width); };
      batches[size_t(q)].push_back({Tensor::from(rows(s, obs_size), {n, kC, kH, kW}, dq), Tensor::from(rows(a, 1), {n, 1}, dq),
                                    Tensor::from(rows(rew, 1), {n}, dq), Tensor::from(rows(s2, obs_size), {n, kC, kH, kW}, dq),
                                    Tensor::from(rows(d, 1), {n}, dq)});
    }
  }
  // The host copy of the target network (its weights never change here: no target syncs).
  agents::HostQNet host_target_net;
  host_target_net.add_conv(kC, kH, kW, 16, 3, 0);
  host_target_net.add_linear(1, 16 * 8 * 8, 128, true);
  host_target_net.add_linear(1, 128, kA, false);
  if (host_target) fill_host(host_target_net, *targets[0]);
  std::vector<float> td_host(kB), q_host(size_t(kB) * kA);
  int step = 0;
  auto update = [&] {
    const int bi = step++ & 63;
    bool host_done = false;
    dp.step(bi, kB, [&](int q, const nn::DataParallel::Shard& sh) {
      const Batch& b = batches[size_t(q)][size_t(bi)];
      // As Dqn::train_step: the online forward (with fc1 on the host: its trunk) is submitted
      // first and runs while the host computes the TD targets (Dqn::host_td_targets).
      Net& net = *nets[size_t(q)];
      Tensor h = net.trunk->forward(b.s);
      Tensor q_all = fc1_exec == LinearExec::host ? Tensor() : net.head->forward(h);
      if (host_target && !host_done) {
        if (!dp.device(q).is_cpu()) dp.device(q).stream().submit();
        const HostBatch& hb = host_batches[size_t(bi)];
        host_target_net.forward_batch(hb.s2.data(), kB, q_host.data());
        for (int i = 0; i < kB; ++i) {
          const float* qi = q_host.data() + size_t(i) * kA;
          const float next = *std::max_element(qi, qi + kA);
          td_host[size_t(i)] = hb.r[size_t(i)] + (1.f - hb.d[size_t(i)]) * next * 0.99f;
        }
        host_done = true;
      }
      if (!q_all.defined()) q_all = net.head->forward(h);
      Tensor qv = gather(q_all, 1, b.a).reshape({sh.count});
      Tensor td_target;
      if (host_target) {
        td_target = Tensor::from(std::span(td_host.data() + sh.begin, size_t(sh.count)), {sh.count}, dp.device(q));
      } else {
        NoGradGuard ng;
        td_target = add(b.r, mul(mul(affine(b.d, -1.f, 1.f), max(targets[size_t(q)]->seq->forward(b.s2), 1)), 0.99f));
      }
      return huber_loss(qv, td_target);
    });
  };

  for (int i = 0; i < opt.warmup; ++i) update();
  dp.sync();
  Stream* st = dev0.is_cpu() ? nullptr : &dev0.stream();   // the CPU reference backend has none
  const bool profiling = st && st->profiling();
  for (int rep = 0; rep < opt.reps; ++rep) {
    const uint64_t d0 = st ? st->dispatches() : 0, s0 = st ? st->submits() : 0;
    if (profiling) st->reset_timings();
    auto t0 = Clock::now();
    for (int i = 0; i < opt.updates; ++i) update();
    dp.sync();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    r.updates_per_sec_reps.push_back(opt.updates / secs);
    r.dispatches_per_update = st ? double(st->dispatches() - d0) / opt.updates : 0.0;
    r.submits_per_update = st ? double(st->submits() - s0) / opt.updates : 0.0;
  }
  r.updates_per_sec = median(r.updates_per_sec_reps);
  if (profiling) r.profile = st->timing_table();

  // --- batch-1 action selection ---------------------------------------------------------------
  std::vector<std::vector<float>> obs;
  HostRng orng(1);
  for (int i = 0; i < 64; ++i) obs.push_back(binary(orng, size_t(kC) * kH * kW, 0.1));
  auto time_calls = [&](auto&& fn) {
    std::vector<double> us;
    us.reserve(size_t(opt.latency_calls));
    volatile int sink = 0;
    for (int i = 0; i < 100; ++i) sink = sink + fn(obs[size_t(i & 63)]);
    for (int i = 0; i < opt.latency_calls; ++i) {
      auto t0 = Clock::now();
      sink = sink + fn(obs[size_t(i & 63)]);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    return median(us);
  };
  agents::HostQNet host;
  host.add_conv(kC, kH, kW, 16, 3, 0);
  host.add_linear(1, 16 * 8 * 8, 128, true);
  host.add_linear(1, 128, kA, false);
  fill_host(host, online);
  r.act_host_us = time_calls([&](const std::vector<float>& o) { return host.greedy(o.data()); });
  {
    std::vector<double> us;
    for (int i = 0; i < 200; ++i) {
      update();   // what a refresh after an update waits for is part of the cost
      dp.sync();
      auto t0 = Clock::now();
      fill_host(host, online);
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    r.host_refresh_us = median(us);
  }
  {
    NoGradGuard ng;
    r.act_device_us = time_calls([&](const std::vector<float>& o) {
      Tensor x = Tensor::from(o, {1, kC, kH, kW}, dev0);
      return argmax(online.seq->forward(x), 1).to_ivector()[0];
    });
    Device& cpu = Device::cpu();
    Net cpu_net(cpu, 1);
    cpu_net.seq->load_state_dict(online.seq->state_dict());
    r.act_cpu_backend_us = time_calls([&](const std::vector<float>& o) {
      Tensor x = Tensor::from(o, {1, kC, kH, kW}, cpu);
      return argmax(cpu_net.seq->forward(x), 1).to_ivector()[0];
    });
  }
  if (opt.gemm_shapes) {
    // (what, M, N, K, trans_a, trans_b) as the engine issues them for batch 32 (conv via im2col).
    const std::tuple<const char*, int, int, int, bool, bool> shapes[] = {
        {"conv fwd (x2: online s, target s')", 16, kB * 64, 36, false, false},
        {"fc1 fwd (x2)", kB, 128, 1024, false, true},
        {"fc2 fwd (x2)", kB, kA, 128, false, true},
        {"fc2 bwd dX", kB, 128, kA, false, false},
        {"fc2 bwd dW", kA, 128, kB, true, false},
        {"fc1 bwd dX", kB, 1024, 128, false, false},
        {"fc1 bwd dW", 128, 1024, kB, true, false},
        {"conv bwd dW", 16, 36, kB * 64, false, true},
    };
    HostRng g(7);
    for (auto& [what, m, n, k, ta, tb] : shapes) {
      auto rnd = [&](int rows, int cols) {
        std::vector<float> v(size_t(rows) * cols);
        for (auto& x : v) x = float(g.uniform() - 0.5);
        return Tensor::from(v, {rows, cols}, dev);
      };
      Tensor a = ta ? rnd(k, m) : rnd(m, k);
      Tensor b = tb ? rnd(n, k) : rnd(k, n);
      std::vector<double> us;
      for (int i = 0; i < 60; ++i) {
        auto t0 = Clock::now();
        Tensor c = matmul(a, b, {.trans_a = ta, .trans_b = tb});
        dev.sync();
        if (i >= 10) us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
      r.gemms.push_back({what, m, n, k, ta, tb, median(us)});
    }
  }
  return r;
}

std::string format(const DqnBenchResult& r) {
  char buf[1024];
  std::string reps;
  for (double v : r.updates_per_sec_reps) reps += (reps.empty() ? "" : ", ") + std::to_string(int(v + 0.5));
  std::snprintf(buf, sizeof buf,
                "dqn on %s%s: update step batch 32 (MinAtar net, %s on the %s, target net on the %s, fc1 on the %s): %.0f updates/s (reps %s; %.1f dispatches, "
                "%.3f submits per update%s)\n"
                "action selection batch 1, median: host copy %.1f us, device %.1f us, CPU reference backend %.1f us; "
                "host-copy refresh %.1f us\n",
                r.device.c_str(), r.replicas > 1 ? (" x " + std::to_string(r.replicas) + " replicas").c_str() : "", r.optimizer.c_str(),
                r.optimizer_on.c_str(), r.target.c_str(), r.fc1.c_str(), r.updates_per_sec, reps.c_str(), r.dispatches_per_update, r.submits_per_update, r.replicas > 1 ? " and replica" : "",
                r.act_host_us, r.act_device_us, r.act_cpu_backend_us, r.host_refresh_us);
  std::string out = buf;
  for (auto& gm : r.gemms) {
    std::snprintf(buf, sizeof buf, "  gemm %-36s M %4d N %4d K %4d %s%s: %8.1f us (incl. submit+wait)\n", gm.what.c_str(), gm.m,
                  gm.n, gm.k, gm.ta ? "A^T" : "A", gm.tb ? " B^T" : " B", gm.us);
    out += buf;
  }
  return out + r.profile;
}

}  // namespace vkwb::bench
