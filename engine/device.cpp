#include "engine/device.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "engine/kernels.h"
#include "engine/memory.h"
#include "engine/stream.h"

namespace vkwb {

void vk_check(VkResult r, const char* what) {
  if (r != VK_SUCCESS) throw Error(std::string(what) + " failed (VkResult " + std::to_string(int(r)) + ")");
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

std::string vendor_name(uint32_t id) {
  switch (id) {
    case 0x10DE: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x8086: return "Intel";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x106B: return "Apple";
    case 0x10005: return "Mesa";
    default: return "vendor 0x" + [&] { char b[16]; std::snprintf(b, sizeof b, "%X", id); return std::string(b); }();
  }
}

std::string type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
  }
}

std::string version_string(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

const char* kNoVulkan =
    "no Vulkan driver found: install a Vulkan loader and driver, e.g. on Debian "
    "`apt-get install libvulkan1 mesa-vulkan-drivers` (lavapipe runs on any CPU), or use --device cpu";

VkInstance make_instance(bool validate, bool* has_debug_utils) {
  vk_load_loader();
  uint32_t api = VK_API_VERSION_1_1;
  auto enum_version = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(
      vkGetInstanceProcAddr(nullptr, "vkEnumerateInstanceVersion"));
  if (enum_version) enum_version(&api);
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "vkwb";
  app.pEngineName = "vkwb";
  app.apiVersion = std::min<uint32_t>(api, VK_API_VERSION_1_3);
  if (app.apiVersion < VK_API_VERSION_1_1) throw Error("Vulkan 1.1 or newer is required (loader reports " + version_string(api) + ")");
  std::vector<const char*> layers, exts;
  *has_debug_utils = false;
  if (validate) {
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, nullptr);
    std::vector<VkLayerProperties> props(n);
    vkEnumerateInstanceLayerProperties(&n, props.data());
    bool found = std::any_of(props.begin(), props.end(), [](auto& p) {
      return std::strcmp(p.layerName, "VK_LAYER_KHRONOS_validation") == 0;
    });
    if (!found) throw Error("validation requested but VK_LAYER_KHRONOS_validation is not installed: apt-get install vulkan-validationlayers");
    layers.push_back("VK_LAYER_KHRONOS_validation");
    exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    *has_debug_utils = true;
  }
  VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = uint32_t(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = uint32_t(exts.size());
  ci.ppEnabledExtensionNames = exts.data();
  VkInstance inst = VK_NULL_HANDLE;
  VkResult r = vkCreateInstance(&ci, nullptr, &inst);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED) throw Error(kNoVulkan);
  vk_check(r, "vkCreateInstance");
  try {
    vk_load_instance(inst);
  } catch (...) {
    if (vkDestroyInstance) vkDestroyInstance(inst, nullptr);
    throw;
  }
  return inst;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance inst) {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(inst, &n, nullptr);
  std::vector<VkPhysicalDevice> v(n);
  vkEnumeratePhysicalDevices(inst, &n, v.data());
  v.resize(n);
  return v;
}

bool has_extension(VkPhysicalDevice pd, const char* name) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> e(n);
  vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, e.data());
  return std::any_of(e.begin(), e.end(), [&](auto& x) { return std::strcmp(x.extensionName, name) == 0; });
}

DeviceInfo query_info(VkPhysicalDevice pd, int index) {
  DeviceInfo d;
  d.index = index;
  VkPhysicalDeviceSubgroupProperties sub{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
  VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  sub.pNext = &m3;
  m3.pNext = &drv;
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &sub;
  vkGetPhysicalDeviceProperties2(pd, &p2);
  const auto& p = p2.properties;
  const auto& l = p.limits;
  d.name = p.deviceName;
  d.type = type_name(p.deviceType);
  d.vendor_id = p.vendorID;
  d.vendor = vendor_name(p.vendorID);
  d.driver = std::string(drv.driverName) + " " + drv.driverInfo;
  d.api_version = version_string(p.apiVersion);
  d.max_storage_buffer_range = l.maxStorageBufferRange;
  d.max_memory_allocation_size = m3.maxMemoryAllocationSize;
  d.max_memory_allocation_count = l.maxMemoryAllocationCount;
  d.max_compute_shared_memory = l.maxComputeSharedMemorySize;
  d.max_workgroup_invocations = l.maxComputeWorkGroupInvocations;
  for (int i = 0; i < 3; ++i) {
    d.max_workgroup_size[i] = l.maxComputeWorkGroupSize[i];
    d.max_workgroup_count[i] = l.maxComputeWorkGroupCount[i];
  }
  d.max_push_constants = l.maxPushConstantsSize;
  d.min_storage_buffer_offset_alignment = uint32_t(l.minStorageBufferOffsetAlignment);
  d.max_texel_buffer_elements = l.maxTexelBufferElements;
  d.min_texel_buffer_offset_alignment = uint32_t(l.minTexelBufferOffsetAlignment);
  {
    d.texel_buffers = true;
    for (VkFormat f : {VK_FORMAT_R32_SFLOAT, VK_FORMAT_R32_UINT, VK_FORMAT_R32G32B32A32_SFLOAT, VK_FORMAT_R32G32_SFLOAT}) {
      VkFormatProperties fp;
      vkGetPhysicalDeviceFormatProperties(pd, f, &fp);
      d.texel_buffers = d.texel_buffers && (fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT);
    }
  }
  d.subgroup_size = sub.subgroupSize;
  d.timestamp_period_ns = l.timestampPeriod;
  d.timestamps = l.timestampComputeAndGraphics && l.timestampPeriod > 0;
  VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  f2.pNext = &f16;
  vkGetPhysicalDeviceFeatures2(pd, &f2);
  d.fp16 = f16.shaderFloat16;
  d.int8 = f16.shaderInt8;
  d.fp64 = f2.features.shaderFloat64;
  d.push_descriptor = has_extension(pd, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(pd, &mp);
  for (uint32_t i = 0; i < mp.memoryHeapCount; ++i)
    d.heaps.push_back({mp.memoryHeaps[i].size, bool(mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)});
  const uint32_t unified = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                           VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
    d.memory_types.push_back({mp.memoryTypes[i].heapIndex, mp.memoryTypes[i].propertyFlags});
    if ((mp.memoryTypes[i].propertyFlags & unified) == unified) d.unified_memory = true;
  }
  return d;
}

DeviceInfo cpu_info() {
  DeviceInfo d;
  d.name = "cpu";
  d.type = "reference";
  d.vendor = "vkwb";
  d.driver = "plain-loop CPU reference";
  d.api_version = "-";
  d.max_storage_buffer_range = UINT64_MAX;
  d.max_memory_allocation_size = UINT64_MAX;
  d.fp64 = true;
  d.unified_memory = true;
  return d;
}

std::atomic<uint64_t> g_total_validation_messages{0};

}  // namespace

uint64_t Device::total_validation_messages() { return g_total_validation_messages.load(); }

VkBool32 VKAPI_PTR debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                  VkDebugUtilsMessageTypeFlagsEXT type,
                                  const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  auto* dev = static_cast<Device*>(user);
  bool counts = (type & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT)) ||
                severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  if (counts) {
    dev->validation_count_++;
    g_total_validation_messages++;
    std::fprintf(stderr, "vkwb: validation: %s\n", data->pMessage);
  }
  return VK_FALSE;
}

struct DeviceRegistry {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<Device>> open;   // key: "cpu" or the index
  static DeviceRegistry& get() {
    static DeviceRegistry* r = new DeviceRegistry;   // leaked on purpose: see close_all()
    return *r;
  }
};

std::unique_ptr<Device> Device::create_cpu() {
  std::unique_ptr<Device> d(new Device);
  d->kind_ = DeviceKind::cpu;
  d->info_ = cpu_info();
  d->allocator_ = std::make_unique<Allocator>(*d, false);
  return d;
}

std::vector<DeviceInfo> Device::list(std::string* why) {
  std::vector<DeviceInfo> out;
  bool dbg = false;
  VkInstance inst = VK_NULL_HANDLE;
  try {
    inst = make_instance(false, &dbg);
  } catch (const Error& e) {
    if (why) *why = e.what();
  }
  if (inst) {
    auto pds = physical_devices(inst);
    for (size_t i = 0; i < pds.size(); ++i) out.push_back(query_info(pds[i], int(i)));
    vkDestroyInstance(inst, nullptr);
  }
  out.push_back(cpu_info());
  return out;
}

static std::string device_list_text(const std::vector<DeviceInfo>& all) {
  std::string s;
  for (auto& d : all) {
    if (!s.empty()) s += ", ";
    s += (d.index >= 0 ? std::to_string(d.index) + ": " : "") + d.name + " (" + d.type + ")";
  }
  return s;
}

namespace {
// Sets an environment variable for the lifetime of the guard (llvmpipe reads LP_NUM_THREADS when
// the instance enumerates its physical devices), then restores it.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  bool active = false;
  ScopedEnv(const char* n, int value) : name(n) {
    if (value < 0) return;
    if (const char* o = std::getenv(n)) old = o;
    setenv(n, std::to_string(value).c_str(), 1);
    active = true;
  }
  ~ScopedEnv() {
    if (!active) return;
    if (old) setenv(name.c_str(), old->c_str(), 1);
    else unsetenv(name.c_str());
  }
};
}  // namespace

std::unique_ptr<Device> Device::create_vulkan(const DeviceOptions& opts) {
  bool validate = opts.validate >= 0 ? opts.validate == 1 : env_flag("VKWB_VALIDATE");
  bool dbg = false;
  ScopedEnv threads("LP_NUM_THREADS", opts.driver_threads);
  VkInstance inst = make_instance(validate, &dbg);
  auto pds = physical_devices(inst);
  if (pds.empty()) {
    vkDestroyInstance(inst, nullptr);
    throw Error(kNoVulkan);
  }
  std::vector<DeviceInfo> infos;
  for (size_t i = 0; i < pds.size(); ++i) infos.push_back(query_info(pds[i], int(i)));
  int chosen = -1;
  if (opts.index >= 0) {
    if (opts.index >= int(pds.size())) {
      vkDestroyInstance(inst, nullptr);
      infos.push_back(cpu_info());
      throw Error("unknown device " + std::to_string(opts.index) + "; devices: " + device_list_text(infos));
    }
    chosen = opts.index;
  } else if (!opts.name.empty()) {
    for (size_t i = 0; i < infos.size() && chosen < 0; ++i)
      if (lower(infos[i].name).find(lower(opts.name)) != std::string::npos) chosen = int(i);
    if (chosen < 0) {
      vkDestroyInstance(inst, nullptr);
      infos.push_back(cpu_info());
      throw Error("unknown device '" + opts.name + "'; devices: " + device_list_text(infos));
    }
  } else {
    int best_rank = -1;
    for (size_t i = 0; i < pds.size(); ++i) {
      VkPhysicalDeviceProperties p;
      vkGetPhysicalDeviceProperties(pds[i], &p);
      if (!infos[i].push_descriptor) continue;
      if (type_rank(p.deviceType) > best_rank) best_rank = type_rank(p.deviceType), chosen = int(i);
    }
    if (chosen < 0) {
      vkDestroyInstance(inst, nullptr);
      throw Error("no Vulkan device supports VK_KHR_push_descriptor; devices: " + device_list_text(infos));
    }
  }
  std::unique_ptr<Device> d(new Device);
  d->kind_ = DeviceKind::vulkan;
  d->instance_ = inst;
  d->physical_ = pds[chosen];
  d->info_ = infos[chosen];
  d->validation_ = validate;
  if (opts.driver_threads >= 0) d->driver_threads_ = opts.driver_threads;
  else if (const char* e = std::getenv("LP_NUM_THREADS"); e && *e) d->driver_threads_ = std::atoi(e);
  if (!d->info_.push_descriptor) throw Error(d->info_.name + " lacks VK_KHR_push_descriptor, which vkwb needs");
  if (dbg) {
    VkDebugUtilsMessengerCreateInfoEXT mi{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mi.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mi.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mi.pfnUserCallback = debug_callback;
    mi.pUserData = d.get();
    auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(inst, "vkCreateDebugUtilsMessengerEXT"));
    vk_check(create(inst, &mi, nullptr, &d->messenger_), "vkCreateDebugUtilsMessengerEXT");
  }
  // A queue family with compute; prefer a compute-only one (async compute on GPUs).
  uint32_t nq = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(d->physical_, &nq, nullptr);
  std::vector<VkQueueFamilyProperties> qf(nq);
  vkGetPhysicalDeviceQueueFamilyProperties(d->physical_, &nq, qf.data());
  int family = -1;
  for (uint32_t i = 0; i < nq; ++i) {
    if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    if (family < 0 || !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) family = int(i);
  }
  if (family < 0) throw Error(d->info_.name + " has no compute queue");
  if (qf[family].timestampValidBits == 0) d->info_.timestamps = false;
  d->queue_family_ = uint32_t(family);
  float prio = 1.0f;
  VkDeviceQueueCreateInfo qi{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qi.queueFamilyIndex = d->queue_family_;
  qi.queueCount = 1;
  qi.pQueuePriorities = &prio;
  const char* exts[] = {VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME};
  VkDeviceCreateInfo ci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  ci.queueCreateInfoCount = 1;
  ci.pQueueCreateInfos = &qi;
  ci.enabledExtensionCount = 1;
  ci.ppEnabledExtensionNames = exts;
  vk_check(vkCreateDevice(d->physical_, &ci, nullptr, &d->device_), "vkCreateDevice");
  vkGetDeviceQueue(d->device_, d->queue_family_, 0, &d->queue_);
  d->allocator_ = std::make_unique<Allocator>(*d, opts.force_staging || env_flag("VKWB_FORCE_STAGING"));
  d->stream_ = std::make_unique<Stream>(*d);
  d->kernels_ = std::make_unique<KernelCache>(*d);
  return d;
}

Device::~Device() {
  if (kind_ == DeviceKind::cpu) {
    allocator_.reset();
    return;
  }
  if (stream_) {
    stream_->sync();
    // VKWB_PROFILE=1: the per-kernel GPU time of the whole process, printed once at the end.
    if (stream_->profiling() && !stream_->timings().empty())
      std::fprintf(stderr, "vkwb profile (%s):\n%s", info_.name.c_str(), stream_->timing_table().c_str());
  }
  if (device_) vkDeviceWaitIdle(device_);
  kernels_.reset();
  stream_.reset();
  allocator_.reset();
  if (device_) vkDestroyDevice(device_, nullptr);
  if (messenger_) {
    auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
        vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
    destroy(instance_, messenger_, nullptr);
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
}

Device& Device::open(const DeviceOptions& opts) {
  auto& reg = DeviceRegistry::get();
  std::lock_guard<std::mutex> lock(reg.mu);
  if (lower(opts.name) == "cpu") {
    auto& slot = reg.open["cpu"];
    if (!slot) slot = create_cpu();
    return *slot;
  }
  // Resolve to an index first, so the same device opened twice is the same object.
  DeviceOptions o = opts;
  std::string key;
  if (o.index >= 0) key = std::to_string(o.index);
  else if (!o.name.empty()) key = "name:" + lower(o.name);
  else key = "best";
  if (o.replica > 0) key += ":replica" + std::to_string(o.replica) + ":threads" + std::to_string(o.driver_threads);
  if (o.force_staging) key += ":staging";   // another allocator: another device object
  auto& slot = reg.open[key];
  if (!slot) slot = create_vulkan(o);
  return *slot;
}

Device& Device::open(const std::string& spec_in) {
  std::string spec = spec_in;
  if (spec.empty()) {
    const char* env = std::getenv("VKWB_DEVICE");
    if (env) spec = env;
  }
  DeviceOptions o;
  if (spec.empty()) return open(o);
  bool numeric = std::all_of(spec.begin(), spec.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (numeric) o.index = std::stoi(spec);
  else o.name = spec;
  return open(o);
}

Device& Device::cpu() { return open(DeviceOptions{.name = "cpu"}); }

std::vector<Device*> Device::open_replicas(Device& base, int n) {
  if (n < 1) throw Error("replicas must be >= 1, got " + std::to_string(n));
  if (n == 1) return {&base};
  if (base.is_cpu()) throw Error("data-parallel replicas need a Vulkan device (the CPU reference backend has none)");
  std::vector<Device*> out;
  for (int r = 1; r <= n; ++r) {
    DeviceOptions o;
    o.index = base.info().index;
    o.validate = base.validation_enabled() ? 1 : 0;
    o.replica = r;
    o.driver_threads = base.info().type == "cpu" ? 0 : -1;
    out.push_back(&open(o));
  }
  return out;
}

Stream& Device::stream() {
  if (!stream_) throw Error("device " + info_.name + " has no command stream (the CPU reference backend runs every op at once)");
  return *stream_;
}

void Device::sync() {
  if (stream_) stream_->sync();
}

void Device::close_all() {
  auto& reg = DeviceRegistry::get();
  std::lock_guard<std::mutex> lock(reg.mu);
  reg.open.clear();
}

}  // namespace vkwb
