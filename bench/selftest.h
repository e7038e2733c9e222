// Cross-vendor conformance: every kernel on the device under test against the CPU reference
// (in double) on several shapes, odd ones included. Behind `vkwb selftest`.
#pragma once
#include <string>
#include <vector>

#include "engine/device.h"

namespace vkwb::bench {

struct SelftestRow {
  std::string kernel, shapes;
  double max_abs = 0, max_rel = 0;
  bool pass = false;
  std::string error;   // exception text, if the case threw
};

std::vector<SelftestRow> run_selftest(Device& dev);

}  // namespace vkwb::bench
