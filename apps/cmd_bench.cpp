// vkwb bench gemm|access|train|envs|dqn [--json]: the figures in docs/PERFORMANCE.md.
#include <cstdlib>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/cli.h"
#include "bench/bench.h"
#include "bench/dqn_bench.h"
#include "bench/env_bench.h"
#include "engine/memory.h"
#include "nets/optim.h"

namespace vkwb::app {

static void register_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "benchmarks: gemm, access, train, envs, dqn");
  cmd->require_subcommand(1);
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "print JSON");

  auto* gemm = cmd->add_subcommand("gemm", "GEMM GFLOPS and dispatch / submit latency");
  auto seconds = std::make_shared<double>(1.0);
  gemm->add_option("--seconds", *seconds, "time per size")->capture_default_str();
  gemm->callback([json, seconds] {
    Device& dev = open_device();
    std::vector<std::vector<int>> sizes = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 2048},
                                           {64, 800, 150},  {1000, 10, 84},  {4096, 256, 64},    {127, 129, 1023}};
    auto rows = bench::bench_gemm(dev, sizes, *seconds);
    auto lat = bench::bench_latency(dev);
    if (*json) {
      nlohmann::json j = {{"device", dev.name()}, {"dispatch_us", lat.dispatch_us}, {"submit_wait_us", lat.submit_wait_us}};
      for (auto& r : rows) j["gemm"].push_back({{"M", r.M}, {"N", r.N}, {"K", r.K}, {"ms", r.ms}, {"gflops", r.gflops}});
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("device %s\n%6s %6s %6s %10s %9s\n", dev.name().c_str(), "M", "N", "K", "ms", "GFLOPS");
    for (auto& r : rows) std::printf("%6d %6d %6d %10.3f %9.2f\n", r.M, r.N, r.K, r.ms, r.gflops);
    std::printf("dispatch %.2f us (in one submission), submit+wait %.1f us\n", lat.dispatch_us, lat.submit_wait_us);
  });

  auto* access = cmd->add_subcommand("access", "storage-access cost per float (float vs vec4, storage buffer vs texel view) and per small dispatch");
  auto floats = std::make_shared<int64_t>(262144);
  auto areps = std::make_shared<int>(100);
  access->add_option("--floats", *floats, "floats moved per dispatch (a multiple of 4)")->capture_default_str();
  access->add_option("--reps", *areps, "dispatches timed per pattern")->capture_default_str()->check(CLI::PositiveNumber);
  access->callback([json, floats, areps] {
    Device& dev = open_device();
    auto rows = bench::bench_access(dev, *floats, *areps);
    if (*json) {
      nlohmann::json j = {{"device", dev.name()}, {"floats", *floats}};
      for (auto& r : rows) j["rows"].push_back({{"pattern", r.pattern}, {"value", r.value}});
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("device %s, %lld floats per dispatch\n", dev.name().c_str(), static_cast<long long>(*floats));
    for (size_t i = 0; i + 1 < rows.size(); ++i) std::printf("%-28s %8.2f ns/float\n", rows[i].pattern.c_str(), rows[i].value);
    std::printf("%-28s %8.2f\n", rows.back().pattern.c_str(), rows.back().value);
  });

  auto* train = cmd->add_subcommand("train", "training throughput (images/s) on Fashion-MNIST (1x28x28) or random batches, and inference over 10k images");
  auto to = std::make_shared<bench::TrainBenchOptions>();
  train->add_option("--model", to->model, "model")->capture_default_str();
  train->add_option("--width", to->width, "model width multiplier")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--batch", to->batch, "batch size")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--steps", to->steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--image-size", to->image_size, "input size: 28 (Fashion-MNIST) or 32 (CIFAR)")->capture_default_str()->check(CLI::IsMember({28, 32}));
  train->add_option("--channels", to->channels, "input channels")->capture_default_str()->check(CLI::Range(1, 3));
  train->add_option("--optimizer", to->optimizer, "optimizer (default learning rate; adam 1e-3)")->capture_default_str()->check(CLI::IsMember(nn::optimizer_names()));
  train->add_option("--data", to->data, "auto: Fashion-MNIST when 1x28x28 and installed, else random; fashion-mnist; random")
      ->capture_default_str()->check(CLI::IsMember({"auto", "fashion-mnist", "random"}));
  train->add_option("--data-dir", to->data_dir, "directory of the Fashion-MNIST IDX files (default: the Debian package's)");
  train->add_flag("--profile", to->profile, "per-kernel GPU time table (timestamps; replica 0's with --replicas)");
  train->add_option("--replicas", to->replicas,
                    "data-parallel replicas, each training on a shard of every batch; 0: auto, as vkwb train (one per core on a "
                    "CPU driver, each with the driver's worker pool off; else 1)")
      ->capture_default_str()->check(CLI::Range(0, 64));
  train->callback([json, to] {
    Device& dev = open_device();
    const bench::TrainBenchOptions& o = *to;
    auto r = bench::bench_train(dev, o);
    if (*json) {
      std::printf("%s\n", nlohmann::json({{"device", dev.name()}, {"model", r.model}, {"width", o.width}, {"batch", r.batch}, {"image_size", o.image_size}, {"channels", o.channels}, {"optimizer", o.optimizer}, {"data", r.data}, {"replicas", r.replicas},
                                          {"optimizer_on", r.optimizer_on}, {"train_images_per_sec", r.images_per_sec}, {"ms_per_step", r.ms_per_step},
                                          {"inference_images_per_sec", r.inference_images_per_sec}, {"inference_batch", r.inference_batch},
                                          {"peak_rss_mib", r.peak_rss_mib}, {"first_step_ms", r.first_step_ms},
                                          {"pipelines", r.pipelines}, {"warm_up_ms", r.warm_up_ms}, {"profile", r.profile}})
                              .dump(2)
                              .c_str());
      return;
    }
    std::printf("%s (width %g, %dx%dx%d, %s data) on %s%s, batch %d, %s (updates on the %s): %.0f img/s (%.2f ms/step); inference batch %d: %.0f img/s; peak RSS %.0f MiB\n",
                r.model.c_str(), o.width, o.channels, o.image_size, o.image_size, r.data.c_str(), dev.name().c_str(),
                r.replicas > 1 ? (" x " + std::to_string(r.replicas) + " replicas").c_str() : "", r.batch, o.optimizer.c_str(), r.optimizer_on.c_str(),
                r.images_per_sec, r.ms_per_step, r.inference_batch, r.inference_images_per_sec, r.peak_rss_mib);
    if (r.pipelines)
      std::printf("start-up: first step %.0f ms, creating %zu pipelines on the way; the same %zu created up front in one batch (warm-up): %.0f ms\n",
                  r.first_step_ms, r.pipelines, r.pipelines, r.warm_up_ms);
    if (!r.profile.empty()) std::printf("%s", r.profile.c_str());
  });

  auto* envs = cmd->add_subcommand("envs", "environment steps/s on one core (random actions)");
  auto env_seconds = std::make_shared<double>(1.0);
  envs->add_option("--seconds", *env_seconds, "time per environment")->capture_default_str();
  envs->callback([json, env_seconds] {
    auto rows = bench::bench_envs(*env_seconds, 1);
    if (*json) {
      nlohmann::json j = nlohmann::json::array();
      for (auto& r : rows) j.push_back({{"env", r.env}, {"steps_per_sec", r.steps_per_sec}, {"episodes", r.episodes}});
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    for (auto& r : rows) std::printf("%-28s %12.0f steps/s\n", r.env.c_str(), r.steps_per_sec);
  });

  auto* dqn = cmd->add_subcommand("dqn", "DQN updates/s (MinAtar net, batch 32) and batch-1 action latency");
  auto dopt = std::make_shared<bench::DqnBenchOptions>();
  dqn->add_option("--updates", dopt->updates, "updates per timed repetition")->capture_default_str();
  dqn->add_option("--reps", dopt->reps, "repetitions (median reported)")->capture_default_str();
  dqn->add_option("--optimizer", dopt->optimizer, "rmsprop or adam")->capture_default_str();
  dqn->add_option("--replicas", dopt->replicas, "data-parallel learner replicas, each updating on a shard of the batch (on a CPU driver: one per core)")
      ->capture_default_str()->check(CLI::Range(1, 32));
  dqn->add_option("--target", dopt->target, "where the target network's forward runs: host (a CPU copy of its weights), device, or auto (host on a CPU driver)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "host", "device"}));
  dqn->add_option("--optimizer-on", dopt->optimizer_on, "where the optimizer's updates run: host (same results), device (the kernel), or auto (host on a CPU driver with one replica)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "host", "device"}));
  dqn->add_option("--fc1", dopt->fc1, "where fc1's products run (same results): device (kernels), host_wgrad (the weight gradient on the host, overlapped with the device's backward pass), host (also forward and data gradient on the host), or auto (host on a CPU driver with one replica)")
      ->capture_default_str()->check(CLI::IsMember({"auto", "device", "host_wgrad", "host"}));
  dqn->callback([json, dopt] {
    setenv("LP_NUM_THREADS", "0", /*overwrite=*/0);   // as `vkwb dqn` does (see cmd_dqn.cpp)
    auto r = bench::bench_dqn(open_device(), *dopt);
    if (*json) {
      nlohmann::json j = {{"device", r.device}, {"target", r.target}, {"optimizer_on", r.optimizer_on}, {"fc1", r.fc1}, {"updates_per_sec", r.updates_per_sec}, {"updates_per_sec_reps", r.updates_per_sec_reps},
                          {"dispatches_per_update", r.dispatches_per_update}, {"submits_per_update", r.submits_per_update},
                          {"act_host_us", r.act_host_us}, {"act_device_us", r.act_device_us},
                          {"act_cpu_backend_us", r.act_cpu_backend_us}, {"host_refresh_us", r.host_refresh_us}};
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("%s", bench::format(r).c_str());
  });
}

static Registrar reg(50, register_bench);

}  // namespace vkwb::app
