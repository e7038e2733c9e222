// Rng: xoshiro256** seeded through splitmix64.
// Environments use this instead of <random> distributions because std::uniform_int_distribution and
// friends are implementation-defined: the same seed would give different episodes with libstdc++ and
// libc++. Everything here is fully specified, so a seed means the same trajectory on every platform.
// The state is four plain words so that environments can copy it into save_state() blobs.
#pragma once
#include <cstdint>

namespace vkwb::envs {

inline uint64_t splitmix64_next(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Derives an independent-looking seed from (seed, index): used for vector-env copies and episodes so
// that neighbouring indices do not give correlated streams.
inline uint64_t derive_seed(uint64_t seed, uint64_t index) {
  uint64_t x = seed ^ (index * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull);
  splitmix64_next(x);
  return splitmix64_next(x);
}

struct Rng {
  uint64_t s[4] = {1, 2, 3, 4};

  Rng() = default;
  explicit Rng(uint64_t seed) { reseed(seed); }

  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& w : s) w = splitmix64_next(x);
  }

  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }

  // Uniform integer in [0, n), n >= 1. Lemire's multiply-shift with rejection: unbiased and cheap.
  uint32_t below(uint32_t n) {
    uint64_t m = (next() >> 32) * uint64_t(n);
    uint32_t low = uint32_t(m);
    if (low < n) {
      const uint32_t threshold = uint32_t(-n) % n;
      while (low < threshold) {
        m = (next() >> 32) * uint64_t(n);
        low = uint32_t(m);
      }
    }
    return uint32_t(m >> 32);
  }

  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

  bool bernoulli(double p) { return uniform() < p; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
};

}  // namespace vkwb::envs
