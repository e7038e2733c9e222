#include "nets/data/augment.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace vkwb::data {

void shift_image(const float* src, float* dst, int c, int h, int w, int dy, int dx) {
  const size_t plane = static_cast<size_t>(h) * w;
  // Columns of dst that map inside src; the rest stays zero (the padding).
  const int x0 = std::max(0, -dx), x1 = std::min(w, w - dx);
  for (int ch = 0; ch < c; ++ch) {
    const float* s = src + ch * plane;
    float* d = dst + ch * plane;
    for (int y = 0; y < h; ++y) {
      float* row = d + static_cast<size_t>(y) * w;
      const int sy = y + dy;
      if (sy < 0 || sy >= h || x0 >= x1) {
        std::fill(row, row + w, 0.0f);
        continue;
      }
      std::fill(row, row + x0, 0.0f);
      std::copy(s + static_cast<size_t>(sy) * w + x0 + dx, s + static_cast<size_t>(sy) * w + x1 + dx,
                row + x0);
      std::fill(row + x1, row + w, 0.0f);
    }
  }
}

void flip_image(float* img, int c, int h, int w) {
  for (int r = 0; r < c * h; ++r) std::reverse(img + static_cast<size_t>(r) * w, img + static_cast<size_t>(r + 1) * w);
}

bool sample_erase_box(int h, int w, const AugmentOptions& opt, HostRng& rng, EraseBox& box) {
  const double area = static_cast<double>(h) * w;
  const double log_r0 = std::log(opt.erase_ratio_min), log_r1 = std::log(opt.erase_ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(opt.erase_scale_min, opt.erase_scale_max);
    const double ratio = std::exp(rng.uniform(log_r0, log_r1));
    const int eh = static_cast<int>(std::lround(std::sqrt(target * ratio)));
    const int ew = static_cast<int>(std::lround(std::sqrt(target / ratio)));
    if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;
    box.h = eh;
    box.w = ew;
    box.y = static_cast<int>(rng.below(static_cast<uint64_t>(h - eh + 1)));
    box.x = static_cast<int>(rng.below(static_cast<uint64_t>(w - ew + 1)));
    return true;
  }
  return false;
}

void random_crop(Batch& b, int padding, HostRng& rng) {
  if (padding <= 0) return;
  const size_t s = b.sample_size();
  b.scratch.resize(s);
  for (int i = 0; i < b.size; ++i) {
    const int dy = static_cast<int>(rng.range(-padding, padding));
    const int dx = static_cast<int>(rng.range(-padding, padding));
    std::copy_n(b.image(i), s, b.scratch.data());
    shift_image(b.scratch.data(), b.image(i), b.c, b.h, b.w, dy, dx);
  }
}

void random_flip(Batch& b, HostRng& rng, double p) {
  for (int i = 0; i < b.size; ++i)
    if (rng.bernoulli(p)) flip_image(b.image(i), b.c, b.h, b.w);
}

void random_erasing(Batch& b, const AugmentOptions& opt, HostRng& rng) {
  if (opt.erase_probability <= 0) return;
  const size_t plane = static_cast<size_t>(b.h) * b.w;
  for (int i = 0; i < b.size; ++i) {
    if (!rng.bernoulli(opt.erase_probability)) continue;
    EraseBox box;
    if (!sample_erase_box(b.h, b.w, opt, rng, box)) continue;
    float* img = b.image(i);
    for (int ch = 0; ch < b.c; ++ch)
      for (int y = box.y; y < box.y + box.h; ++y) {
        float* row = img + ch * plane + static_cast<size_t>(y) * b.w;
        for (int x = box.x; x < box.x + box.w; ++x)
          row[x] = opt.erase_random ? rng.uniform_f() : opt.erase_value;
      }
  }
}

void mixup(Batch& b, float alpha, HostRng& rng) {
  if (alpha <= 0 || b.size == 0) return;
  const float lambda = static_cast<float>(rng.beta(alpha, alpha));
  std::vector<int64_t> perm(static_cast<size_t>(b.size));
  for (int i = 0; i < b.size; ++i) perm[static_cast<size_t>(i)] = i;
  rng.shuffle(perm);
  const size_t s = b.sample_size();
  b.scratch.assign(b.x.begin(), b.x.begin() + static_cast<std::ptrdiff_t>(b.size * s));
  b.y_mix.resize(static_cast<size_t>(b.size));
  for (int i = 0; i < b.size; ++i) {
    const size_t j = static_cast<size_t>(perm[static_cast<size_t>(i)]);
    float* dst = b.image(i);
    const float* other = b.scratch.data() + j * s;
    for (size_t k = 0; k < s; ++k) dst[k] = lambda * dst[k] + (1.0f - lambda) * other[k];
    b.y_mix[static_cast<size_t>(i)] = b.y[j];
  }
  b.mixed = true;
  b.mix_lambda = lambda;
}

void augment(Batch& b, const AugmentOptions& opt, HostRng& rng) {
  if (opt.crop_padding > 0) random_crop(b, opt.crop_padding, rng);
  if (opt.horizontal_flip) random_flip(b, rng);
  if (opt.erase_probability > 0) random_erasing(b, opt, rng);
  if (opt.mixup_alpha > 0) mixup(b, opt.mixup_alpha, rng);
}

std::function<void(Batch&, HostRng&)> make_augmentation(const AugmentOptions& opt) {
  if (opt.crop_padding < 0) throw Error("augmentation: crop padding must be >= 0");
  if (opt.erase_probability < 0 || opt.erase_probability > 1)
    throw Error("augmentation: erase probability must be in [0, 1]");
  if (opt.erase_probability > 0 &&
      !(opt.erase_scale_min > 0 && opt.erase_scale_min <= opt.erase_scale_max &&
        opt.erase_ratio_min > 0 && opt.erase_ratio_min <= opt.erase_ratio_max))
    throw Error("augmentation: erase scale and ratio ranges must be positive and ordered");
  if (opt.mixup_alpha < 0) throw Error("augmentation: mixup alpha must be >= 0");
  return [opt](Batch& b, HostRng& rng) { augment(b, opt, rng); };
}

}  // namespace vkwb::data
