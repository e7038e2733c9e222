// GridMap: the ASCII maps behind GridWorld, and the built-in ones.
// Format, one text row per grid row, all rows the same width:
//   #  wall        S  start (exactly one)     G  goal (+1, ends the episode, at least one)
//   .  floor       P  pit (-1, ends the episode)
// Leading and trailing blank lines and trailing whitespace (including '\r') are ignored; cells
// outside the map behave like walls, so maps need not be enclosed.
#pragma once
#include <string>
#include <vector>

namespace vkwb::envs {

struct GridMap {
  std::string name;   // built-in name or the file path it was loaded from
  int width = 0, height = 0;
  std::string cells;  // row-major, width * height characters from "#.SGP"

  char at(int x, int y) const { return cells[size_t(y) * width + x]; }
};

// source names the origin in error messages, e.g. "gridworld map file 'maps/a.txt'".
// Throws vkwb::Error naming the source and the 1-based line of the first problem.
GridMap parse_grid_map(const std::string& text, const std::string& name, const std::string& source);

// A built-in name from builtin_grid_maps(), else a path to a map file.
GridMap load_grid_map(const std::string& name_or_path);

std::vector<std::string> builtin_grid_maps();

}  // namespace vkwb::envs
