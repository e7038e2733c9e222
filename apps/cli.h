// The `vkwb` command line: one CLI11 app, one file per subcommand (cmd_*.cpp), each exposing a
// register function. Errors are thrown as vkwb::Error and printed by main() as one line.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "engine/device.h"

namespace vkwb::app {

// Options every subcommand shares (set on the top-level app, accepted after the subcommand too).
struct Global {
  std::string device;     // N, name substring, or "cpu"; default $VKWB_DEVICE, then the best
  bool validate = false;  // Vulkan validation layer + debug messenger
};
Global& global();
Device& open_device();    // from global()

// Each cmd_*.cpp adds its subcommand with a static Registrar:
//   static Registrar reg("devices", [](CLI::App& app) { ... add_subcommand ... });
struct Registrar {
  Registrar(int order, void (*fn)(CLI::App&));
};
void register_all(CLI::App& app);

}  // namespace vkwb::app
