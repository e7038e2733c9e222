// Animated GIF output for episode recordings (giflib). Frames are quantised to one global palette:
// the exact colours when there are at most 256 of them (env renders use a handful), otherwise a
// fixed 6x6x6 colour cube. The file is written to "<path>.tmp" and renamed, so a crash never leaves
// a truncated GIF under the final name. The animation loops forever.
#pragma once
#include <string>
#include <vector>

#include "envs/env.h"

namespace vkwb::envs {

// delay_cs: time per frame in hundredths of a second. All frames must have the same size.
// Throws vkwb::Error (naming the path) on empty or mismatched frames or on I/O failure.
void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_cs);

}  // namespace vkwb::envs
