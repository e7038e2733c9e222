#include "nets/init.h"

#include <cmath>

namespace vkwb::nn::init {

Fans fans(const Shape& w) {
  if (w.n < 2) throw Error("init: weight needs at least 2 dimensions, got " + w.str());
  double rf = 1;
  for (int i = 2; i < w.n; ++i) rf *= double(w[i]);
  return {double(w[1]) * rf, double(w[0]) * rf};
}

Tensor uniform(const Shape& s, Device& dev, uint64_t seed, double lo, double hi) {
  return Tensor::rand(s, dev, seed, float(lo), float(hi));
}
Tensor normal(const Shape& s, Device& dev, uint64_t seed, double mean, double std) {
  return Tensor::randn(s, dev, seed, float(mean), float(std));
}
Tensor xavier_uniform(const Shape& s, Device& dev, uint64_t seed, double gain) {
  Fans f = fans(s);
  double a = gain * std::sqrt(6.0 / (f.fan_in + f.fan_out));
  return uniform(s, dev, seed, -a, a);
}
Tensor xavier_normal(const Shape& s, Device& dev, uint64_t seed, double gain) {
  Fans f = fans(s);
  return normal(s, dev, seed, 0.0, gain * std::sqrt(2.0 / (f.fan_in + f.fan_out)));
}
Tensor kaiming_uniform(const Shape& s, Device& dev, uint64_t seed, double gain, bool mode_fan_in) {
  Fans f = fans(s);
  double bound = gain * std::sqrt(3.0 / (mode_fan_in ? f.fan_in : f.fan_out));
  return uniform(s, dev, seed, -bound, bound);
}
Tensor kaiming_normal(const Shape& s, Device& dev, uint64_t seed, double gain, bool mode_fan_in) {
  Fans f = fans(s);
  return normal(s, dev, seed, 0.0, gain / std::sqrt(mode_fan_in ? f.fan_in : f.fan_out));
}
Tensor default_uniform(const Shape& s, Device& dev, uint64_t seed, double fan_in) {
  double b = fan_in > 0 ? 1.0 / std::sqrt(fan_in) : 0.0;
  return uniform(s, dev, seed, -b, b);
}

}  // namespace vkwb::nn::init
