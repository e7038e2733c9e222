// Host-side data augmentation on a Batch ([B, C, H, W] floats), driven by a caller-seeded HostRng
// so that the same seed gives the same augmented batch on every machine. The loader hands each
// batch an RNG derived from (seed, epoch, batch index), which also makes resumed runs see the
// augmentations they would have seen.
#pragma once
#include <functional>

#include "nets/data/batch.h"
#include "nets/data/host_rng.h"

namespace vkwb::data {

struct AugmentOptions {
  int crop_padding = 0;          // > 0: random crop of the image zero-padded by this many pixels
  bool horizontal_flip = false;  // flip each image with probability 1/2
  // Random erasing (Zhong et al. 2017): with probability erase_probability, a rectangle with area
  // in [erase_scale_min, erase_scale_max] of the image and aspect ratio in [erase_ratio_min,
  // erase_ratio_max] (sampled log-uniformly, as torchvision does) is filled with erase_value, or
  // with uniform [0, 1) noise when erase_random is set (the paper's choice).
  float erase_probability = 0.0f;
  float erase_scale_min = 0.02f, erase_scale_max = 0.33f;
  float erase_ratio_min = 0.3f, erase_ratio_max = 3.3f;
  float erase_value = 0.0f;
  bool erase_random = false;
  // Mixup (Zhang et al. 2018): > 0 mixes the batch with a shuffled copy of itself, lambda ~
  // Beta(alpha, alpha), one lambda per batch.
  float mixup_alpha = 0.0f;
};

// Deterministic building blocks.
// dst(y, x) = src(y + dy, x + dx), zero outside the source; dst must not alias src.
void shift_image(const float* src, float* dst, int c, int h, int w, int dy, int dx);
void flip_image(float* img, int c, int h, int w);
struct EraseBox {
  int y = 0, x = 0, h = 0, w = 0;
};
// Samples a box the way random erasing does; false if no attempt fitted (10 tries, as torchvision).
bool sample_erase_box(int h, int w, const AugmentOptions& opt, HostRng& rng, EraseBox& box);

// Random augmentations over a whole batch.
void random_crop(Batch& b, int padding, HostRng& rng);
void random_flip(Batch& b, HostRng& rng, double p = 0.5);
void random_erasing(Batch& b, const AugmentOptions& opt, HostRng& rng);
void mixup(Batch& b, float alpha, HostRng& rng);

// Crop, flip, erasing, then mixup, each as enabled in `opt`.
void augment(Batch& b, const AugmentOptions& opt, HostRng& rng);

// The loader's augmentation callback for `opt`.
std::function<void(Batch&, HostRng&)> make_augmentation(const AugmentOptions& opt);

}  // namespace vkwb::data
