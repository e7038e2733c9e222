#include "nets/io/image_grid.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cstdint>
#include <fstream>

#include "engine/error.h"
#include "nets/io/atomic_file.h"

namespace vkwb::io {

void write_png_grid(const std::string& path, const std::vector<float>& images, int n, int c, int h, int w,
                    const ImageGridOptions& o) {
  if (n < 1 || h < 1 || w < 1 || (c != 1 && c != 3)) throw Error("write_png_grid: need n >= 1 images of 1 or 3 channels");
  if (images.size() != size_t(n) * c * h * w) throw Error("write_png_grid: " + std::to_string(images.size()) + " floats for " +
                                                          std::to_string(n) + " images of " + std::to_string(c * h * w));
  if (o.columns < 1 || o.scale < 1 || o.padding < 0) throw Error("write_png_grid: columns and scale must be >= 1, padding >= 0");
  const int cols = std::min(o.columns, n), rows = (n + cols - 1) / cols;
  const int th = h * o.scale, tw = w * o.scale;
  const int W = cols * tw + (cols + 1) * o.padding, H = rows * th + (rows + 1) * o.padding;
  std::vector<uint8_t> px(size_t(W) * H * c, o.background);
  const size_t per = size_t(c) * h * w;
  for (int i = 0; i < n; ++i) {
    const float* img = images.data() + per * size_t(i);
    float lo = o.lo, hi = o.hi;
    if (lo == hi) {
      auto [mn, mx] = std::minmax_element(img, img + per);
      lo = *mn, hi = *mx > *mn ? *mx : *mn + 1.f;
    }
    const int x0 = o.padding + (i % cols) * (tw + o.padding), y0 = o.padding + (i / cols) * (th + o.padding);
    for (int y = 0; y < th; ++y)
      for (int x = 0; x < tw; ++x)
        for (int ch = 0; ch < c; ++ch) {
          float v = img[(size_t(ch) * h + size_t(y / o.scale)) * w + size_t(x / o.scale)];
          float t = std::clamp((v - lo) / (hi - lo), 0.f, 1.f);
          px[(size_t(y0 + y) * W + size_t(x0 + x)) * c + size_t(ch)] = uint8_t(t * 255.f + 0.5f);
        }
  }
  std::string png;
  auto sink = [](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size_t(size)); };
  if (!stbi_write_png_to_func(sink, &png, W, H, c, px.data(), W * c)) throw Error("write_png_grid: PNG encoding failed for " + path);
  AtomicFile f(path);
  f.write(png);
  f.commit();
}

std::vector<int> png_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char b[26] = {};
  if (!in.read(reinterpret_cast<char*>(b), 26) || b[0] != 0x89 || b[1] != 'P' || b[2] != 'N' || b[3] != 'G')
    throw Error(path + " is not a PNG file");
  auto be32 = [&](int o) { return int(b[o]) << 24 | int(b[o + 1]) << 16 | int(b[o + 2]) << 8 | int(b[o + 3]); };
  const int color = b[25];   // 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA
  return {be32(16), be32(20), color == 0 ? 1 : color == 2 ? 3 : color == 4 ? 2 : 4};
}

}  // namespace vkwb::io
