// Turning observation planes into pictures: each plane gets a colour, a cell shows the colour of the
// first plane in `order` that is set there (default order 0, 1, 2, ...: plane 0, usually the player,
// is drawn on top; games whose trail planes come early reorder so trails never hide objects).
#pragma once
#include <cstdint>
#include <span>

#include "envs/env.h"

namespace vkwb::envs {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// colours.size() must be shape.c. cell_pixels >= 1; from 6 pixels on, a thin dark grid is drawn so
// that neighbouring cells of the same colour stay distinguishable.
Image render_planes(const uint8_t* obs, ObsShape shape, std::span<const Rgb> colours,
                    int cell_pixels, Rgb background = {0, 0, 0}, std::span<const int> order = {});

}  // namespace vkwb::envs
