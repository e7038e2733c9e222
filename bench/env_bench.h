// Environment throughput: single-threaded steps per second for every built-in environment, with
// random actions and automatic resets, observations built every step as in training.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vkwb::bench {

struct EnvBenchRow {
  std::string env;
  double steps_per_sec = 0.0;
  int64_t steps = 0;
  int64_t episodes = 0;
};

// Runs each environment in envs::env_names() (default options: sticky actions 0.1, ramping on)
// for about seconds_per_env of wall time.
std::vector<EnvBenchRow> bench_envs(double seconds_per_env, uint64_t seed);

}  // namespace vkwb::bench
