// vkwb: research workbench CLI. Subcommand dispatch and the one place errors are printed.
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <vector>

#include "apps/cli.h"
#include "engine/error.h"

namespace vkwb::app {

Global& global() {
  static Global g;
  return g;
}

Device& open_device() {
  DeviceOptions o;
  std::string spec = global().device;
  if (spec.empty()) {
    const char* env = std::getenv("VKWB_DEVICE");
    if (env) spec = env;
  }
  if (global().validate) o.validate = 1;
  bool numeric = !spec.empty() && spec.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) o.index = std::stoi(spec);
  else o.name = spec;
  return Device::open(o);
}

namespace {
std::vector<std::pair<int, void (*)(CLI::App&)>>& registrars() {
  static std::vector<std::pair<int, void (*)(CLI::App&)>> r;
  return r;
}
}  // namespace

Registrar::Registrar(int order, void (*fn)(CLI::App&)) { registrars().emplace_back(order, fn); }

void register_all(CLI::App& app) {
  auto r = registrars();
  std::sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [order, fn] : r) fn(app);
}

}  // namespace vkwb::app

int main(int argc, char** argv) {
  using namespace vkwb::app;
  CLI::App app{"vkwb: a research workbench for reinforcement learning and generative models on Vulkan compute"};
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("--device", global().device, "device: index, name substring, or 'cpu' (default: $VKWB_DEVICE, then the best)");
  app.add_flag("--validate", global().validate, "enable the Vulkan validation layer (also VKWB_VALIDATE=1)");
  register_all(app);
  // Parse errors (unknown flag, bad value, missing subcommand) in one line, like every other error.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("vkwb: error: ") + e.what() + " (see --help)\n";
  });
  int rc = 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    rc = app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkwb: error: %s\n", e.what());
    rc = 1;
  }
  try {
    vkwb::Device::close_all();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vkwb: error: %s\n", e.what());
    rc = rc ? rc : 1;
  }
  return rc;
}
