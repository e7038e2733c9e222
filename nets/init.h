// Weight initialisers (Glorot & Bengio 2010, He et al. 2015), drawn with the device's
// counter-based RNG so a seed gives the same weights on every device.
#pragma once
#include "engine/tensor.h"

namespace vkwb::nn::init {

struct Fans { double fan_in, fan_out; };
Fans fans(const Shape& weight);   // Linear [out, in]; Conv [out, in/g, kh, kw]

Tensor uniform(const Shape& s, Device& dev, uint64_t seed, double lo, double hi);
Tensor normal(const Shape& s, Device& dev, uint64_t seed, double mean, double std);
Tensor xavier_uniform(const Shape& s, Device& dev, uint64_t seed, double gain = 1.0);
Tensor xavier_normal(const Shape& s, Device& dev, uint64_t seed, double gain = 1.0);
// mode_fan_in = true: fan_in (forward pass); gain sqrt(2) for ReLU.
Tensor kaiming_uniform(const Shape& s, Device& dev, uint64_t seed, double gain = 1.4142135623730951, bool mode_fan_in = true);
Tensor kaiming_normal(const Shape& s, Device& dev, uint64_t seed, double gain = 1.4142135623730951, bool mode_fan_in = true);
// PyTorch's default for Linear / Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
Tensor default_uniform(const Shape& s, Device& dev, uint64_t seed, double fan_in);

}  // namespace vkwb::nn::init
