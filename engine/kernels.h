// KernelCache: ShaderId + specialization constants -> compute pipeline, created lazily and cached.
// Pipelines share push-descriptor set layouts of 8 bindings, each a storage buffer or (bit i of
// `texel_mask`) a uniform texel buffer, and one 128-byte push constant range, so a kernel call is:
// bind pipeline, push descriptors, push constants, dispatch.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
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

constexpr uint32_t kMaxBindings = 8;
constexpr uint32_t kMaxPushBytes = 128;

class KernelCache {
 public:
  explicit KernelCache(Device& dev);
  ~KernelCache();
  KernelCache(const KernelCache&) = delete;
  KernelCache& operator=(const KernelCache&) = delete;

  // spec[i] is specialization constant id i.
  const Kernel& get(ShaderId id, const std::vector<int32_t>& spec, uint32_t texel_mask = 0);
  size_t size() const { return pipelines_.size(); }

 private:
  Device& dev_;
  struct Layout { VkDescriptorSetLayout set = VK_NULL_HANDLE; VkPipelineLayout pipeline = VK_NULL_HANDLE; };
  VkPipelineLayout layout(uint32_t texel_mask);
  std::map<uint32_t, Layout> layouts_;   // texel_mask -> layouts
  std::vector<VkShaderModule> modules_;
  std::map<std::tuple<ShaderId, uint32_t, std::vector<int32_t>>, Kernel> pipelines_;
};

}  // namespace vkwb
