// vkwb devices [--json]: every Vulkan device (and the CPU reference backend) with its limits.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/cli.h"

namespace vkwb::app {

static nlohmann::json to_json(const DeviceInfo& d) {
  nlohmann::json heaps = nlohmann::json::array();
  for (auto& h : d.heaps) heaps.push_back({{"size", h.size}, {"device_local", h.device_local}});
  return {{"index", d.index}, {"name", d.name}, {"type", d.type}, {"vendor", d.vendor}, {"vendor_id", d.vendor_id},
          {"driver", d.driver}, {"api_version", d.api_version},
          {"max_storage_buffer_range", d.max_storage_buffer_range},
          {"max_memory_allocation_size", d.max_memory_allocation_size},
          {"max_memory_allocation_count", d.max_memory_allocation_count},
          {"max_compute_shared_memory", d.max_compute_shared_memory},
          {"max_workgroup_invocations", d.max_workgroup_invocations},
          {"max_workgroup_size", {d.max_workgroup_size[0], d.max_workgroup_size[1], d.max_workgroup_size[2]}},
          {"max_workgroup_count", {d.max_workgroup_count[0], d.max_workgroup_count[1], d.max_workgroup_count[2]}},
          {"max_push_constants", d.max_push_constants}, {"min_storage_buffer_offset_alignment", d.min_storage_buffer_offset_alignment},
          {"max_texel_buffer_elements", d.max_texel_buffer_elements}, {"texel_buffers", d.texel_buffers},
          {"subgroup_size", d.subgroup_size}, {"fp16", d.fp16}, {"int8", d.int8}, {"fp64", d.fp64},
          {"timestamps", d.timestamps}, {"push_descriptor", d.push_descriptor}, {"unified_memory", d.unified_memory},
          {"heaps", heaps}};
}

static void register_devices(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "list Vulkan devices and their limits");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([json] {
    std::string why;
    auto all = Device::list(&why);
    if (*json) {
      nlohmann::json j = nlohmann::json::array();
      for (auto& d : all) j.push_back(to_json(d));
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    if (all.size() == 1)
      std::printf("no Vulkan device found (%s); only the CPU reference backend\n",
                  why.empty() ? "install mesa-vulkan-drivers for lavapipe" : why.c_str());
    for (auto& d : all) {
      if (d.index < 0) {
        std::printf("cpu: CPU reference backend (plain loops, float32/float64; the test oracle)\n");
        continue;
      }
      std::printf("%d: %s (%s, %s, Vulkan %s)\n", d.index, d.name.c_str(), d.type.c_str(), d.vendor.c_str(), d.api_version.c_str());
      std::printf("   driver %s\n", d.driver.c_str());
      std::printf("   maxStorageBufferRange %llu MiB, maxMemoryAllocationSize %llu MiB, shared memory %u KiB\n",
                  (unsigned long long)(d.max_storage_buffer_range >> 20), (unsigned long long)(d.max_memory_allocation_size >> 20),
                  d.max_compute_shared_memory >> 10);
      std::printf("   workgroup: %u invocations, size %u x %u x %u, count %u x %u x %u; subgroup %u\n", d.max_workgroup_invocations,
                  d.max_workgroup_size[0], d.max_workgroup_size[1], d.max_workgroup_size[2], d.max_workgroup_count[0],
                  d.max_workgroup_count[1], d.max_workgroup_count[2], d.subgroup_size);
      std::printf("   maxTexelBufferElements %u, float texel buffers %s\n", d.max_texel_buffer_elements,
                  d.texel_buffers ? "yes" : "no");
      std::printf("   fp16 %s, int8 %s, fp64 %s, timestamps %s, push descriptors %s, unified memory %s\n", d.fp16 ? "yes" : "no",
                  d.int8 ? "yes" : "no", d.fp64 ? "yes" : "no", d.timestamps ? "yes" : "no", d.push_descriptor ? "yes" : "no",
                  d.unified_memory ? "yes" : "no");
      for (auto& h : d.heaps)
        std::printf("   heap %llu MiB%s\n", (unsigned long long)(h.size >> 20), h.device_local ? " device-local" : "");
    }
  });
}

static Registrar reg(10, register_devices);

}  // namespace vkwb::app
