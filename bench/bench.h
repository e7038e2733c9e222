// Benchmarks behind `vkwb bench`. Each returns rows the CLI prints as a table or JSON.
#pragma once
#include <string>
#include <vector>

#include "engine/device.h"

namespace vkwb::bench {

struct GemmRow { int M, N, K; double ms, gflops; };
struct LatencyResult { double dispatch_us, submit_wait_us; };
std::vector<GemmRow> bench_gemm(Device& dev, const std::vector<std::vector<int>>& sizes, double seconds_per_size);
LatencyResult bench_latency(Device& dev);

// ns per float moved for each access pattern (store float / vec4, copies through storage buffers
// and texel views), last row: microseconds per small dispatch. Checks every kernel's output.
struct AccessRow { std::string pattern; double value; };
std::vector<AccessRow> bench_access(Device& dev, int64_t floats, int reps);

struct TrainBenchResult {
  std::string model;
  int batch;
  double images_per_sec, ms_per_step, inference_images_per_sec;
  double peak_rss_mib;
  std::string profile;   // per-kernel table when profiling was on
  std::string data;      // what it trained on: "fashion-mnist" or "random"
  int inference_batch = 1000;   // 1000, or smaller when 1000 images' activations exceed a binding
  // Start-up: the first step (pipelines created lazily as its kernels first run), and creating
  // those same pipelines in one batch on a fresh KernelCache (what a run's warm-up does).
  double first_step_ms = 0;
  size_t pipelines = 0;
  double warm_up_ms = 0;
  int replicas = 1;
  std::string optimizer_on = "device";   // where the updates ran: host or device (nn::host_optimizer_pays)
};
struct TrainBenchOptions {
  std::string model = "lenet5";
  int batch = 64;
  int steps = 300;
  bool profile = false;
  float width = 1.f;
  int image_size = 28;           // 28 (Fashion-MNIST) or 32 (CIFAR)
  int channels = 1;
  std::string optimizer = "adam";   // any of nn::optimizer_names(), default learning rate
  // "auto": Fashion-MNIST from data_dir when the input is 1x28x28 and the files are there, else
  // random images and labels; "fashion-mnist" (an error when missing) or "random".
  std::string data = "auto";
  std::string data_dir;   // empty: the Debian package's directory
  int replicas = 0;       // data-parallel replicas (nets/parallel.h); 0: auto, as `vkwb train` (nn::auto_replicas)
};
TrainBenchResult bench_train(Device& dev, const TrainBenchOptions& o);

double peak_rss_mib();   // VmHWM of this process

}  // namespace vkwb::bench
