// The Vulkan API as vkwb calls it: function pointers loaded at run time from the system's Vulkan
// loader (dlopen of libvulkan.so.1), so the binary starts, and `--device cpu` works, on a machine
// without Vulkan, and a missing loader is a clear error instead of the dynamic linker's. Every
// engine file includes this instead of <vulkan/vulkan.h>. The pointers live in namespace vkwb with
// the API's own names, so engine code calls vkCreateBuffer(...) as usual, and they never clash with
// a library that links the loader itself (e.g. an ImGui Vulkan backend).
#pragma once
#ifndef VK_NO_PROTOTYPES
#define VK_NO_PROTOTYPES
#endif
#include <vulkan/vulkan.h>

// Functions from the loader before any instance exists.
#define VKWB_VK_GLOBAL_FUNCTIONS(X) \
  X(vkCreateInstance)               \
  X(vkEnumerateInstanceLayerProperties)

// Everything else, resolved with vkGetInstanceProcAddr(instance, ...): the loader's trampolines
// dispatch device functions to whichever device the handle belongs to.
#define VKWB_VK_INSTANCE_FUNCTIONS(X)           \
  X(vkDestroyInstance)                          \
  X(vkEnumeratePhysicalDevices)                 \
  X(vkEnumerateDeviceExtensionProperties)       \
  X(vkGetPhysicalDeviceProperties)              \
  X(vkGetPhysicalDeviceProperties2)             \
  X(vkGetPhysicalDeviceFeatures2)               \
  X(vkGetPhysicalDeviceMemoryProperties)        \
  X(vkGetPhysicalDeviceQueueFamilyProperties)   \
  X(vkGetPhysicalDeviceFormatProperties)        \
  X(vkGetDeviceProcAddr)                        \
  X(vkCreateDevice)                             \
  X(vkDestroyDevice)                            \
  X(vkDeviceWaitIdle)                           \
  X(vkGetDeviceQueue)                           \
  X(vkQueueSubmit)                              \
  X(vkCreateBuffer)                             \
  X(vkDestroyBuffer)                            \
  X(vkGetBufferMemoryRequirements)              \
  X(vkAllocateMemory)                           \
  X(vkFreeMemory)                               \
  X(vkBindBufferMemory)                         \
  X(vkMapMemory)                                \
  X(vkCreateBufferView)                         \
  X(vkDestroyBufferView)                        \
  X(vkCreateShaderModule)                       \
  X(vkDestroyShaderModule)                      \
  X(vkCreateDescriptorSetLayout)                \
  X(vkDestroyDescriptorSetLayout)               \
  X(vkCreatePipelineLayout)                     \
  X(vkDestroyPipelineLayout)                    \
  X(vkCreateComputePipelines)                   \
  X(vkDestroyPipeline)                          \
  X(vkCreatePipelineCache)                      \
  X(vkDestroyPipelineCache)                     \
  X(vkGetPipelineCacheData)                     \
  X(vkCreateCommandPool)                        \
  X(vkDestroyCommandPool)                       \
  X(vkAllocateCommandBuffers)                   \
  X(vkBeginCommandBuffer)                       \
  X(vkEndCommandBuffer)                         \
  X(vkResetCommandBuffer)                       \
  X(vkCreateFence)                              \
  X(vkDestroyFence)                             \
  X(vkWaitForFences)                            \
  X(vkResetFences)                              \
  X(vkCreateQueryPool)                          \
  X(vkDestroyQueryPool)                         \
  X(vkGetQueryPoolResults)                      \
  X(vkCmdResetQueryPool)                        \
  X(vkCmdWriteTimestamp)                        \
  X(vkCmdPipelineBarrier)                       \
  X(vkCmdBindPipeline)                          \
  X(vkCmdPushConstants)                         \
  X(vkCmdDispatch)                              \
  X(vkCmdCopyBuffer)

namespace vkwb {

extern PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
#define VKWB_VK_DECLARE(name) extern PFN_##name name;
VKWB_VK_GLOBAL_FUNCTIONS(VKWB_VK_DECLARE)
VKWB_VK_INSTANCE_FUNCTIONS(VKWB_VK_DECLARE)
#undef VKWB_VK_DECLARE

// Opens the Vulkan loader once (VKWB_VULKAN_LIBRARY names another file) and resolves the global
// functions; throws vkwb::Error saying what to install when the loader is missing or unusable.
void vk_load_loader();
// Resolves every instance-level function for `instance`; throws when one is missing.
void vk_load_instance(VkInstance instance);

}  // namespace vkwb
