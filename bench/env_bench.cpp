#include "bench/env_bench.h"

#include <chrono>

#include "envs/env.h"
#include "envs/rng.h"

namespace vkwb::bench {

std::vector<EnvBenchRow> bench_envs(double seconds_per_env, uint64_t seed) {
  using Clock = std::chrono::steady_clock;
  // Actions come from a precomputed table so the benchmark measures the env, not the RNG.
  constexpr size_t kTable = 1 << 16;
  constexpr int64_t kCheckEvery = 4096;  // steps between clock reads
  std::vector<EnvBenchRow> rows;
  for (const auto& name : envs::env_names()) {
    auto env = envs::make_env(name);
    envs::Rng rng(seed);
    std::vector<int> actions(kTable);
    for (auto& a : actions) a = int(rng.below(uint32_t(env->num_actions())));
    EnvBenchRow row;
    row.env = name;
    uint64_t episode = 0;
    env->reset(envs::derive_seed(seed, episode));
    volatile uint8_t sink = 0;  // keeps the observation reads from being optimised away
    const auto start = Clock::now();
    double elapsed = 0.0;
    while (elapsed < seconds_per_env) {
      for (int64_t i = 0; i < kCheckEvery; ++i) {
        const envs::StepResult r = env->step(actions[size_t(row.steps++) & (kTable - 1)]);
        sink = sink + env->observation()[0];
        if (r.terminated || r.truncated) {
          ++row.episodes;
          env->reset(envs::derive_seed(seed, ++episode));
        }
      }
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    row.steps_per_sec = double(row.steps) / elapsed;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace vkwb::bench
