#include "envs/grid_map.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "engine/error.h"

namespace vkwb::envs {

namespace {

struct BuiltinMap {
  const char* name;
  const char* text;
};

// Kept small so that value iteration and tabular methods run in milliseconds.
const BuiltinMap kBuiltinMaps[] = {
    {"empty5",
     "#######\n"
     "#S....#\n"
     "#.....#\n"
     "#.....#\n"
     "#.....#\n"
     "#....G#\n"
     "#######\n"},
    // Sutton & Barto's cliff walk: the short path runs along the pits, so exploration (or slip)
    // makes the safe path preferable.
    {"cliff",
     "............\n"
     "............\n"
     "............\n"
     "SPPPPPPPPPPG\n"},
    // Sutton, Precup & Singh (1999): four rooms joined by one-cell doorways.
    {"fourrooms",
     "#############\n"
     "#S....#.....#\n"
     "#.....#.....#\n"
     "#...........#\n"
     "#.....#.....#\n"
     "#.....#.....#\n"
     "##.####.....#\n"
     "#.....###.###\n"
     "#.....#.....#\n"
     "#.....#.....#\n"
     "#...........#\n"
     "#.....#....G#\n"
     "#############\n"},
    {"maze",
     "###########\n"
     "#S#.......#\n"
     "#.#.#####.#\n"
     "#.#.#...#.#\n"
     "#...#.#.#.#\n"
     "#####.#.#.#\n"
     "#.....#.#.#\n"
     "#.#####.#.#\n"
     "#.......#G#\n"
     "###########\n"},
    // A corridor between two rows of pits: harmless without slip, a risk trade-off with it.
    {"bridge",
     "#########\n"
     "#PPPPPPP#\n"
     "#S.....G#\n"
     "#PPPPPPP#\n"
     "#########\n"},
};

std::string rstrip(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

GridMap parse_grid_map(const std::string& text, const std::string& name, const std::string& source) {
  std::vector<std::pair<int, std::string>> rows;  // (1-based line number, content)
  {
    std::istringstream in(text);
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) rows.emplace_back(++line_no, rstrip(line));
  }
  while (!rows.empty() && rows.back().second.empty()) rows.pop_back();
  size_t first = 0;
  while (first < rows.size() && rows[first].second.empty()) ++first;
  rows.erase(rows.begin(), rows.begin() + std::ptrdiff_t(first));
  if (rows.empty()) throw Error(source + ": the map is empty");
  if (rows.size() > 256) throw Error(source + ": the map has more than 256 rows");

  GridMap map;
  map.name = name;
  map.width = int(rows.front().second.size());
  map.height = int(rows.size());
  if (map.width > 256) {
    throw Error(source + ", line " + std::to_string(rows.front().first) + ": rows longer than 256 cells");
  }
  int starts = 0, goals = 0;
  for (const auto& [line_no, row] : rows) {
    const std::string where = source + ", line " + std::to_string(line_no);
    if (row.empty()) throw Error(where + ": blank line inside the map");
    if (int(row.size()) != map.width) {
      throw Error(where + ": row has " + std::to_string(row.size()) + " cells but the first row has " +
                  std::to_string(map.width) + "; all rows must be the same width");
    }
    for (size_t x = 0; x < row.size(); ++x) {
      const char c = row[x];
      if (c == 'S') ++starts;
      if (c == 'G') ++goals;
      if (std::strchr("#.SGP", c) == nullptr || c == '\0') {
        throw Error(where + ", column " + std::to_string(x + 1) + ": unexpected character '" +
                    std::string(1, c) + "'; use # wall, . floor, S start, G goal, P pit");
      }
    }
    map.cells += row;
  }
  if (starts != 1) {
    throw Error(source + ": the map needs exactly one start cell 'S', found " + std::to_string(starts));
  }
  if (goals < 1) throw Error(source + ": the map needs at least one goal cell 'G'");
  return map;
}

GridMap load_grid_map(const std::string& name_or_path) {
  for (const auto& m : kBuiltinMaps) {
    if (name_or_path == m.name) return parse_grid_map(m.text, m.name, "built-in map '" + name_or_path + "'");
  }
  std::ifstream in(name_or_path, std::ios::binary);
  if (!in) {
    std::string names;
    for (const auto& m : kBuiltinMaps) names += std::string(names.empty() ? "" : ", ") + m.name;
    throw Error("gridworld: '" + name_or_path + "' is neither a built-in map (" + names +
                ") nor a readable map file (" + std::strerror(errno) + ")");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_grid_map(text.str(), name_or_path, "gridworld map file '" + name_or_path + "'");
}

std::vector<std::string> builtin_grid_maps() {
  std::vector<std::string> names;
  for (const auto& m : kBuiltinMaps) names.emplace_back(m.name);
  return names;
}

}  // namespace vkwb::envs
