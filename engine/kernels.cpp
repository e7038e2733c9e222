#include "engine/kernels.h"

#include "engine/device.h"

namespace vkwb {

KernelCache::KernelCache(Device& dev) : dev_(dev) {
  modules_.assign(static_cast<size_t>(ShaderId::count_), VK_NULL_HANDLE);
}

VkPipelineLayout KernelCache::layout(uint32_t texel_mask) {
  auto it = layouts_.find(texel_mask);
  if (it != layouts_.end()) return it->second.pipeline;
  VkDescriptorSetLayoutBinding b[kMaxBindings];
  for (uint32_t i = 0; i < kMaxBindings; ++i) {
    auto type = (texel_mask >> i) & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    b[i] = {i, type, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  }
  Layout l;
  VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  li.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
  li.bindingCount = kMaxBindings;
  li.pBindings = b;
  vk_check(vkCreateDescriptorSetLayout(dev_.vk(), &li, nullptr, &l.set), "vkCreateDescriptorSetLayout");
  VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, kMaxPushBytes};
  VkPipelineLayoutCreateInfo pi{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pi.setLayoutCount = 1;
  pi.pSetLayouts = &l.set;
  pi.pushConstantRangeCount = 1;
  pi.pPushConstantRanges = &pr;
  vk_check(vkCreatePipelineLayout(dev_.vk(), &pi, nullptr, &l.pipeline), "vkCreatePipelineLayout");
  layouts_.emplace(texel_mask, l);
  return l.pipeline;
}

KernelCache::~KernelCache() {
  for (auto& [k, p] : pipelines_) vkDestroyPipeline(dev_.vk(), p.pipeline, nullptr);
  for (auto m : modules_)
    if (m) vkDestroyShaderModule(dev_.vk(), m, nullptr);
  for (auto& [mask, l] : layouts_) {
    vkDestroyPipelineLayout(dev_.vk(), l.pipeline, nullptr);
    vkDestroyDescriptorSetLayout(dev_.vk(), l.set, nullptr);
  }
}

const Kernel& KernelCache::get(ShaderId id, const std::vector<int32_t>& spec, uint32_t texel_mask) {
  auto key = std::make_tuple(id, texel_mask, spec);
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return it->second;
  const ShaderBlob& blob = shader_blob(id);
  VkShaderModule& mod = modules_[static_cast<size_t>(id)];
  if (!mod) {
    VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = blob.bytes;
    mi.pCode = blob.code;
    vk_check(vkCreateShaderModule(dev_.vk(), &mi, nullptr, &mod), blob.name);
  }
  std::vector<VkSpecializationMapEntry> entries(spec.size());
  for (uint32_t i = 0; i < spec.size(); ++i) entries[i] = {i, 4 * i, 4};
  VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), spec.size() * 4, spec.data()};
  VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = mod;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
  Kernel k;
  k.layout = layout(texel_mask);
  ci.layout = k.layout;
  k.name = blob.name;
  vk_check(vkCreateComputePipelines(dev_.vk(), VK_NULL_HANDLE, 1, &ci, nullptr, &k.pipeline), blob.name);
  return pipelines_.emplace(key, k).first->second;
}

}  // namespace vkwb
