// Storage-access cost per float (`vkwb bench access`): float vs vec4 stores and copies, storage
// buffer vs texel-view loads, and the cost of one small dispatch. On llvmpipe these explain the
// kernels' design (texel reads, vec4 access; docs/PERFORMANCE.md); on GPUs they are bandwidth.
#include <chrono>
#include <cmath>

#include "bench/bench.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/stream.h"

namespace vkwb::bench {

namespace {
using clk = std::chrono::steady_clock;
using detail::Texel;
struct AccessP { uint32_t n; int32_t a_texel; };

void run(Device& dev, int mode, bool texel_in, Texel kind, Tensor& out, const Tensor& in, uint32_t n) {
  AccessP p{n, 0};
  uint32_t items = mode % 2 == 1 ? n / 4 : n;
  if (mode < 2) {
    detail::launch(dev, ShaderId::bench_access, {int32_t(detail::local_1d(dev)), mode}, p, {out, out},
                   detail::groups_1d(dev, items));
  } else if (texel_in) {
    p.a_texel = detail::texel_index(in, kind);
    detail::launch(dev, ShaderId::bench_access_texel, {int32_t(detail::local_1d(dev)), mode}, p,
                   {out, detail::texel(in, kind)}, detail::groups_1d(dev, items));
  } else {
    detail::launch(dev, ShaderId::bench_access, {int32_t(detail::local_1d(dev)), mode}, p, {out, in},
                   detail::groups_1d(dev, items));
  }
}
}  // namespace

std::vector<AccessRow> bench_access(Device& dev, int64_t floats, int reps) {
  if (dev.is_cpu()) throw Error("bench access: needs a Vulkan device");
  if (floats < 4 || floats % 4 || floats > (int64_t(1) << 28)) throw Error("bench access: --floats must be a multiple of 4 in [4, 2^28]");
  if (reps < 1) throw Error("bench access: --reps must be >= 1");
  bool texel = dev.info().texel_buffers;
  uint32_t n = uint32_t(floats);
  Tensor in = Tensor::rand({floats}, dev, 3), out = Tensor::empty({floats}, dev);
  struct Case { const char* name; int mode; bool texel_in; Texel kind; };
  std::vector<Case> cases = {{"store float", 0, false, Texel::f32}, {"store vec4", 1, false, Texel::f32},
                             {"copy float -> float", 2, false, Texel::f32}, {"copy vec4 -> vec4", 3, false, Texel::f32}};
  if (texel) {
    cases.push_back({"copy R32F texel -> float", 2, true, Texel::f32});
    cases.push_back({"copy RGBA32F texel -> vec4", 3, true, Texel::f32x4});
  }
  std::vector<double> want = in.to_dvector();
  std::vector<AccessRow> rows;
  for (const Case& c : cases) {
    run(dev, c.mode, c.texel_in, c.kind, out, in, n);   // warm-up (pipeline creation)
    dev.sync();
    // Check what the kernel wrote: a benchmark of a wrong kernel is worthless.
    std::vector<double> got = out.to_dvector();
    for (int64_t i = 0; i < floats; ++i) {
      double w = c.mode < 2 ? double(i) : want[size_t(i)];
      if (std::abs(got[size_t(i)] - w) > 1e-6 * std::max(1.0, std::abs(w)))
        throw Error(std::string("bench access: ") + c.name + " wrote a wrong value at " + std::to_string(i));
    }
    auto t0 = clk::now();
    for (int r = 0; r < reps; ++r) run(dev, c.mode, c.texel_in, c.kind, out, in, n);
    dev.sync();
    double s = std::chrono::duration<double>(clk::now() - t0).count();
    rows.push_back({c.name, 1e9 * s / (double(reps) * double(floats))});
  }
  // One small dispatch (64 floats): the driver's per-dispatch cost, kernels back to back.
  Tensor small = Tensor::empty({64}, dev);
  run(dev, 0, false, Texel::f32, small, small, 64);
  dev.sync();
  const int m = 1000;
  auto t0 = clk::now();
  for (int r = 0; r < m; ++r) run(dev, 0, false, Texel::f32, small, small, 64);
  dev.sync();
  rows.push_back({"one 64-float dispatch (us)", 1e6 * std::chrono::duration<double>(clk::now() - t0).count() / m});
  return rows;
}

}  // namespace vkwb::bench
