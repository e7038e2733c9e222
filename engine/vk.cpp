#include "engine/vk.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "engine/error.h"

namespace vkwb {

PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
#define VKWB_VK_DEFINE(name) PFN_##name name = nullptr;
VKWB_VK_GLOBAL_FUNCTIONS(VKWB_VK_DEFINE)
VKWB_VK_INSTANCE_FUNCTIONS(VKWB_VK_DEFINE)
#undef VKWB_VK_DEFINE

namespace {
std::mutex g_mutex;
void* g_library = nullptr;
}  // namespace

void vk_load_loader() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_library) return;
  const char* env = std::getenv("VKWB_VULKAN_LIBRARY");
#ifdef __APPLE__
  const char* name = env && *env ? env : "libvulkan.1.dylib";
#else
  const char* name = env && *env ? env : "libvulkan.so.1";
#endif
  void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    throw Error(std::string("cannot load the Vulkan loader (") + (why ? why : name) +
                "): install it and a driver, e.g. on Debian `apt-get install libvulkan1 mesa-vulkan-drivers` "
                "(lavapipe runs on any CPU), or use --device cpu");
  }
  auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
  if (!gipa) {
    dlclose(lib);
    throw Error(std::string(name) + " is not a Vulkan loader (no vkGetInstanceProcAddr): reinstall libvulkan1");
  }
  vkGetInstanceProcAddr = gipa;
#define VKWB_VK_LOAD_GLOBAL(fn)                                                                 \
  fn = reinterpret_cast<PFN_##fn>(gipa(nullptr, #fn));                                          \
  if (!fn) {                                                                                    \
    dlclose(lib);                                                                               \
    throw Error(std::string("the Vulkan loader ") + name + " lacks " #fn ": reinstall libvulkan1"); \
  }
  VKWB_VK_GLOBAL_FUNCTIONS(VKWB_VK_LOAD_GLOBAL)
#undef VKWB_VK_LOAD_GLOBAL
  g_library = lib;   // kept open for the life of the process
}

void vk_load_instance(VkInstance instance) {
  std::lock_guard<std::mutex> lock(g_mutex);
  // The loader returns the same trampolines for every instance, so loading again is harmless.
#define VKWB_VK_LOAD_INSTANCE(fn)                                                                    \
  fn = reinterpret_cast<PFN_##fn>(vkGetInstanceProcAddr(instance, #fn));                            \
  if (!fn) throw Error("the Vulkan loader lacks " #fn " (Vulkan 1.1 is required): update libvulkan1");
  VKWB_VK_INSTANCE_FUNCTIONS(VKWB_VK_LOAD_INSTANCE)
#undef VKWB_VK_LOAD_INSTANCE
}

}  // namespace vkwb
