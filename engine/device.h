// Device: one Vulkan physical device opened for compute (or the CPU reference backend), its
// limits, its memory allocator, its stream and its pipeline cache.
//
// Devices live in a process-wide registry so tensors can refer to them by pointer; they are
// destroyed by Device::close_all() (the CLI and the test fixture call it on exit).
#pragma once
#include "engine/vk.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.h"

namespace vkwb {

class Allocator;
class Stream;
class KernelCache;

enum class DeviceKind { vulkan, cpu };

// Everything `vkwb devices` prints; queried once, never hard-coded.
struct DeviceInfo {
  int index = -1;                 // position in vkEnumeratePhysicalDevices, -1 for the CPU backend
  std::string name;
  std::string type;               // discrete, integrated, virtual, cpu, other, reference
  uint32_t vendor_id = 0;
  std::string vendor;
  std::string driver;             // driverName + driverInfo
  std::string api_version;
  uint64_t max_storage_buffer_range = 0;
  uint64_t max_memory_allocation_size = 0;
  uint32_t max_memory_allocation_count = 0;
  uint32_t max_compute_shared_memory = 0;
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_workgroup_size[3] = {0, 0, 0};
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  uint32_t max_push_constants = 0;
  uint32_t min_storage_buffer_offset_alignment = 0;
  uint32_t max_texel_buffer_elements = 0;
  uint32_t min_texel_buffer_offset_alignment = 0;
  bool texel_buffers = false;     // R32F, R32UI, RG32F and RGBA32F uniform texel buffers usable
  uint32_t subgroup_size = 0;
  bool timestamps = false;
  double timestamp_period_ns = 0;
  bool fp16 = false, int8 = false, fp64 = false;
  bool push_descriptor = false;
  struct Heap { uint64_t size; bool device_local; };
  std::vector<Heap> heaps;
  struct MemType { uint32_t heap; uint32_t flags; };
  std::vector<MemType> memory_types;
  bool unified_memory = false;    // a device-local + host-visible + coherent type exists
};

struct DeviceOptions {
  int index = -1;                 // -1: best (discrete > integrated > virtual > cpu)
  std::string name;               // case-insensitive substring of the device name, or "cpu"
  int validate = -1;              // -1: from VKWB_VALIDATE, 0 off, 1 on
  bool force_staging = false;     // use staging copies even on unified memory (tests the GPU path)
  // > 0: a further logical device (own VkDevice, queue, allocator, stream) on the same physical
  // device, for data-parallel replicas; see Device::open_replicas.
  int replica = 0;
  // CPU drivers (llvmpipe): the driver's worker threads for this device (LP_NUM_THREADS while
  // its instance is created); -1: the driver's default. 0 runs every dispatch on the queue's own
  // thread: no worker wake-up per dispatch (~50 us on 2 cores, 1.4 us inline).
  int driver_threads = -1;
};

class Device {
 public:
  // Opens (or returns the already opened) device. `spec` is "", "N", a name substring or "cpu";
  // an empty spec falls back to $VKWB_DEVICE, then to the best device.
  static Device& open(const DeviceOptions& opts = {});
  static Device& open(const std::string& spec);
  static Device& cpu();
  // n devices for data-parallel replicas of one model on `base`'s physical device: {&base} when
  // n == 1; otherwise n further logical devices, each with its own queue. On a CPU driver each
  // replica runs its dispatches on its own queue thread with the driver's worker pool off, so n
  // replicas keep n cores busy without the pool's per-dispatch wake-ups. Opened once, cached.
  // Opening one sets LP_NUM_THREADS for a moment (setenv): call it before the process starts
  // threads of its own that read the environment.
  static std::vector<Device*> open_replicas(Device& base, int n);
  // Every Vulkan device plus the CPU backend; when Vulkan itself is unusable (no loader, no
  // driver) only the CPU backend, and `why` (if given) receives the reason.
  static std::vector<DeviceInfo> list(std::string* why = nullptr);
  static void close_all();

  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  DeviceKind kind() const { return kind_; }
  bool is_cpu() const { return kind_ == DeviceKind::cpu; }
  // Its kernels run on the host's own cores: the CPU backend or a CPU Vulkan driver (lavapipe).
  bool runs_on_host_cores() const { return is_cpu() || info().type == "cpu"; }
  const DeviceInfo& info() const { return info_; }
  const std::string& name() const { return info_.name; }

  // Wait for all recorded work to finish (submits it first).
  void sync();

  // Validation messages seen since the device was opened (only counted with validation on).
  // Over all devices ever opened, including messages emitted while destroying them.
  static uint64_t total_validation_messages();
  uint64_t validation_messages() const { return validation_count_.load(); }
  bool validation_enabled() const { return validation_; }
  // CPU drivers: the driver worker threads it was opened with (DeviceOptions::driver_threads, or
  // LP_NUM_THREADS at the time); -1: the driver's default. 0: every dispatch on the queue's thread.
  int driver_threads() const { return driver_threads_; }

  Allocator& allocator() { return *allocator_; }
  const Allocator& allocator() const { return *allocator_; }
  // The command stream; the CPU reference backend has none (it runs ops immediately) and throws.
  Stream& stream();
  KernelCache& kernels() { return *kernels_; }

  // Vulkan handles, for the engine's own components.
  VkDevice vk() const { return device_; }
  VkPhysicalDevice physical() const { return physical_; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return queue_family_; }
  VkInstance instance() const { return instance_; }

 private:
  Device() = default;
  static std::unique_ptr<Device> create_vulkan(const DeviceOptions& opts);
  static std::unique_ptr<Device> create_cpu();
  friend struct DeviceRegistry;
  friend VkBool32 VKAPI_PTR debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT,
                                           VkDebugUtilsMessageTypeFlagsEXT,
                                           const VkDebugUtilsMessengerCallbackDataEXT*, void*);

  DeviceKind kind_ = DeviceKind::cpu;
  DeviceInfo info_;
  bool validation_ = false;
  int driver_threads_ = -1;
  std::atomic<uint64_t> validation_count_{0};
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  std::unique_ptr<Allocator> allocator_;
  std::unique_ptr<Stream> stream_;
  std::unique_ptr<KernelCache> kernels_;
};

// Throws vkwb::Error naming the failed call and the VkResult.
void vk_check(VkResult r, const char* what);

}  // namespace vkwb
