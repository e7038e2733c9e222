// Small helpers shared by the environment tests.
#pragma once
#include <cstdint>
#include <vector>

#include "envs/env.h"

namespace vkwb::envs::test {

// Scripted game tests need every chosen action executed.
inline EnvOptions no_sticky() {
  EnvOptions o;
  o.sticky_action_prob = 0.0;
  return o;
}

inline bool cell(const Env& env, int c, int y, int x) {
  const ObsShape s = env.observation_shape();
  return env.observation()[(size_t(c) * s.h + y) * s.w + x] != 0;
}

inline int plane_count(const Env& env, int c) {
  const ObsShape s = env.observation_shape();
  int n = 0;
  for (int i = 0; i < s.h * s.w; ++i) n += env.observation()[size_t(c) * s.h * s.w + i];
  return n;
}

inline std::vector<uint8_t> obs_copy(const Env& env) {
  return std::vector<uint8_t>(env.observation(), env.observation() + env.observation_shape().size());
}

}  // namespace vkwb::envs::test
