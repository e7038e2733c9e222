// KernelCache: ShaderId + specialization constants -> compute pipeline, created lazily and cached.
// Pipelines share push-descriptor set layouts of 8 bindings, each a storage buffer or (bit i of
// `texel_mask`) a uniform texel buffer, and one 128-byte push constant range, so a kernel call is:
// bind pipeline, push descriptors, push constants, dispatch.
//
// Warm-up: keys() lists the pipelines a process has created; save_manifest() writes them to a text
// file and warm_up(load_manifest(file)) creates them all at once at the start of the next run (one
// vkCreateComputePipelines call, which drivers may compile in parallel), so no training step pays
// for a compile. Compiled code also persists across processes through a VkPipelineCache stored in
// $VKWB_PIPELINE_CACHE (a directory; "0" turns it off), else $XDG_CACHE_HOME/vkwb or ~/.cache/vkwb,
// one file per driver and device, written atomically when the device closes.
#pragma once
#include "engine/vk.h"

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "shader_ids.h"

namespace vkwb {

class Device;

struct Kernel {
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  const char* name = "";
};

// What identifies a pipeline.
struct KernelKey {
  ShaderId id{};
  uint32_t texel_mask = 0;
  std::vector<int32_t> spec;
  bool operator==(const KernelKey&) const = default;
};

constexpr uint32_t kMaxBindings = 8;
constexpr uint32_t kMaxPushBytes = 128;

class KernelCache {
 public:
  // disk_cache = false: an in-memory VkPipelineCache only, nothing read or written (benchmarks
  // that time cold pipeline creation).
  explicit KernelCache(Device& dev, bool disk_cache = true);
  ~KernelCache();
  KernelCache(const KernelCache&) = delete;
  KernelCache& operator=(const KernelCache&) = delete;

  // spec[i] is specialization constant id i.
  const Kernel& get(ShaderId id, const std::vector<int32_t>& spec, uint32_t texel_mask = 0);
  size_t size() const { return pipelines_.size(); }

  // Every pipeline created so far, in creation order.
  std::vector<KernelKey> keys() const { return order_; }
  // Creates the missing pipelines among `keys` in one batch; returns how many it created.
  size_t warm_up(const std::vector<KernelKey>& keys);
  // Manifest files: one line per key, "shader_name texel_mask spec0 spec1 ...". Writing is atomic;
  // loading throws vkwb::Error naming the file and line on a malformed line or an unknown shader.
  void save_manifest(const std::string& path) const;
  static std::vector<KernelKey> load_manifest(const std::string& path);

  // The pipeline cache file for this device ("" when disabled), and writing it now (atomic).
  const std::string& pipeline_cache_path() const { return cache_path_; }
  void save_pipeline_cache(const std::string& path) const;

 private:
  Device& dev_;
  struct Layout { VkDescriptorSetLayout set = VK_NULL_HANDLE; VkPipelineLayout pipeline = VK_NULL_HANDLE; };
  VkPipelineLayout layout(uint32_t texel_mask);
  VkShaderModule module(ShaderId id);
  std::map<uint32_t, Layout> layouts_;   // texel_mask -> layouts
  std::vector<VkShaderModule> modules_;
  std::map<std::tuple<ShaderId, uint32_t, std::vector<int32_t>>, Kernel> pipelines_;
  std::vector<KernelKey> order_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::string cache_path_;
  size_t created_since_load_ = 0;
};

// Run directories (vkwb train / dqn --out DIR) keep the manifest of their pipelines in
// DIR/pipelines.txt. warm_up_run creates those pipelines before the first step and returns how
// many it created and the milliseconds that took (0 on a CPU-backend device or without the file;
// a malformed manifest is only warned about: it is an optimisation, never a reason to stop).
// save_run_manifest writes the file (atomically); a no-op on the CPU backend.
struct WarmUp { size_t pipelines = 0; double ms = 0; };
WarmUp warm_up_run(Device& dev, const std::string& run_dir);
void save_run_manifest(Device& dev, const std::string& run_dir);

}  // namespace vkwb
