// Batch: one mini-batch of images and labels as the loader hands it out, contiguous [size, c, h, w].
#pragma once
#include <cstdint>
#include <vector>

namespace vkwb::data {

struct Batch {
  int size = 0;  // samples in this batch (the last one of an epoch may be short)
  int c = 0, h = 0, w = 0;
  std::vector<float> x;        // size * c * h * w
  std::vector<int32_t> y;      // size
  std::vector<int64_t> index;  // dataset index of each sample
  int64_t epoch = 0;
  int64_t batch_index = 0;  // position within the epoch

  // Set by mixup: x = mix_lambda * x_a + (1 - mix_lambda) * x_b, where y holds the labels of x_a
  // and y_mix those of x_b; the loss is mix_lambda * L(y) + (1 - mix_lambda) * L(y_mix).
  bool mixed = false;
  float mix_lambda = 1.0f;
  std::vector<int32_t> y_mix;

  // Work space that augmentations reuse across batches, so steady-state loading does not allocate.
  std::vector<float> scratch;

  size_t sample_size() const { return static_cast<size_t>(c) * h * w; }
  float* image(int i) { return x.data() + static_cast<size_t>(i) * sample_size(); }
  const float* image(int i) const { return x.data() + static_cast<size_t>(i) * sample_size(); }
};

}  // namespace vkwb::data
