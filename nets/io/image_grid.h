// PNG image grids (stb_image_write, Debian's libstb): a batch of [N, C, H, W] float images tiled
// into one picture, e.g. the misclassified test images of a classifier run and, next wave, the
// samples of the generative models. Written atomically (io::AtomicFile).
#pragma once
#include <string>
#include <vector>

namespace vkwb::io {

struct ImageGridOptions {
  int columns = 8;      // tiles per row (fewer if there are fewer images)
  int scale = 2;        // each pixel becomes scale x scale
  int padding = 2;      // pixels between tiles (in output pixels), filled with `background`
  unsigned char background = 64;
  // Values are mapped linearly from [lo, hi] to [0, 255] and clamped; lo == hi: each image's own
  // min and max.
  float lo = 0.f, hi = 1.f;
};

// images: n * c * h * w floats; c is 1 (grey) or 3 (RGB, planar as in the tensors). Throws
// vkwb::Error on bad shapes or if the file cannot be written.
void write_png_grid(const std::string& path, const std::vector<float>& images, int n, int c, int h, int w,
                    const ImageGridOptions& o = {});

// Decodes the size of a PNG file (tests): {width, height, channels}; throws if it is not a PNG.
std::vector<int> png_size(const std::string& path);

}  // namespace vkwb::io
