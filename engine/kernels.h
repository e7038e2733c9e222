// KernelCache: ShaderId + specialization constants -> compute pipeline, created lazily and cached.
// All pipelines share one push-descriptor set layout (8 storage buffers) and one 128-byte push
// constant range, so a kernel call is: bind pipeline, push descriptors, push constants, dispatch.
#pragma once
#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
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
  const Kernel& get(ShaderId id, const std::vector<int32_t>& spec);
  size_t size() const { return pipelines_.size(); }

 private:
  Device& dev_;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkPipelineLayout layout_ = VK_NULL_HANDLE;
  std::vector<VkShaderModule> modules_;
  std::map<std::pair<ShaderId, std::vector<int32_t>>, Kernel> pipelines_;
};

}  // namespace vkwb
