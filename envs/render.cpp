#include "envs/render.h"

#include <string>

#include "engine/error.h"

namespace vkwb::envs {

Image render_planes(const uint8_t* obs, ObsShape shape, std::span<const Rgb> colours,
                    int cell_pixels, Rgb background, std::span<const int> order) {
  if (cell_pixels < 1 || cell_pixels > 256) {
    throw Error("render: cell_pixels must be in [1, 256], got " + std::to_string(cell_pixels));
  }
  if (int(colours.size()) != shape.c) {
    throw Error("render: " + std::to_string(colours.size()) + " colours for " +
                std::to_string(shape.c) + " planes");
  }
  if (!order.empty() && int(order.size()) != shape.c) {
    throw Error("render: draw order lists " + std::to_string(order.size()) + " planes, expected " +
                std::to_string(shape.c));
  }
  for (int c : order) {
    if (c < 0 || c >= shape.c) throw Error("render: draw order names plane " + std::to_string(c));
  }
  const Rgb grid = {28, 28, 28};
  const bool draw_grid = cell_pixels >= 6;
  Image img;
  img.width = shape.w * cell_pixels;
  img.height = shape.h * cell_pixels;
  img.rgb.resize(size_t(img.width) * img.height * 3);
  const size_t plane = size_t(shape.h) * shape.w;
  for (int y = 0; y < shape.h; ++y) {
    for (int x = 0; x < shape.w; ++x) {
      Rgb colour = background;
      for (int i = 0; i < shape.c; ++i) {
        const int c = order.empty() ? i : order[size_t(i)];
        if (obs[c * plane + size_t(y) * shape.w + x]) {
          colour = colours[size_t(c)];
          break;
        }
      }
      for (int py = 0; py < cell_pixels; ++py) {
        uint8_t* row = img.rgb.data() + (size_t(y * cell_pixels + py) * img.width + x * cell_pixels) * 3;
        for (int px = 0; px < cell_pixels; ++px) {
          const bool edge = draw_grid && (px == cell_pixels - 1 || py == cell_pixels - 1);
          const Rgb c = edge ? grid : colour;
          row[px * 3 + 0] = c.r;
          row[px * 3 + 1] = c.g;
          row[px * 3 + 2] = c.b;
        }
      }
    }
  }
  return img;
}

}  // namespace vkwb::envs
