// vkwb selftest [--device all|N|NAME] [--json]: every kernel against the CPU reference.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/cli.h"
#include "bench/selftest.h"

namespace vkwb::app {

static void register_selftest(CLI::App& app) {
  auto* cmd = app.add_subcommand("selftest", "check every kernel against the CPU reference (conformance)");
  auto json = std::make_shared<bool>(false);
  auto which = std::make_shared<std::string>();
  cmd->add_option("--devices", *which, "all, or a device index/name (default: --device / the best)");
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([json, which] {
    std::vector<Device*> devs;
    if (*which == "all") {
      for (auto& d : Device::list())
        if (d.index >= 0) devs.push_back(&Device::open(DeviceOptions{.index = d.index, .validate = global().validate ? 1 : -1}));
      if (devs.empty()) throw Error("no Vulkan device to test; install mesa-vulkan-drivers (lavapipe)");
    } else if (!which->empty()) {
      devs.push_back(&Device::open(*which));
    } else {
      devs.push_back(&open_device());
    }
    nlohmann::json out = nlohmann::json::array();
    int failures = 0;
    for (Device* d : devs) {
      auto rows = bench::run_selftest(*d);
      nlohmann::json jr = nlohmann::json::array();
      if (!*json) {
        std::printf("device %s (%s)\n", d->name().c_str(), d->info().driver.c_str());
        std::printf("%-26s %-34s %11s %11s  %s\n", "kernel", "shapes", "max abs", "max rel", "result");
      }
      for (auto& r : rows) {
        failures += !r.pass;
        if (*json) {
          jr.push_back({{"kernel", r.kernel}, {"shapes", r.shapes}, {"max_abs", r.max_abs}, {"max_rel", r.max_rel}, {"pass", r.pass},
                        {"error", r.error}});
        } else {
          std::printf("%-26s %-34s %11.3e %11.3e  %s%s%s\n", r.kernel.c_str(), r.shapes.c_str(), r.max_abs, r.max_rel,
                      r.pass ? "pass" : "FAIL", r.error.empty() ? "" : ": ", r.error.c_str());
        }
      }
      if (*json) out.push_back({{"device", d->name()}, {"driver", d->info().driver}, {"results", jr}});
      else std::printf("%zu kernels checked, %d failed\n\n", rows.size(), failures);
    }
    if (*json) std::printf("%s\n", out.dump(2).c_str());
    if (failures) throw Error(std::to_string(failures) + " selftest case(s) failed");
  });
}

static Registrar reg(15, register_selftest);

}  // namespace vkwb::app
