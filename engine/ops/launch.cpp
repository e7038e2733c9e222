#include "engine/ops/launch.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "engine/kernels.h"
#include "engine/stream.h"

namespace vkwb::detail {

uint32_t local_1d(const Device& dev) { return std::min<uint32_t>(128, dev.info().max_workgroup_invocations); }

uint32_t max_groups(const Device& dev) {
  // CPU drivers (lavapipe) pay a fixed cost per workgroup that dwarfs a few loads and stores:
  // a few hundred workgroups, each invocation looping over many elements, keep every core busy
  // at a fraction of the cost. GPUs want the full grid.
  return dev.info().type == "cpu" ? 256u : dev.info().max_workgroup_count[0];
}

// Grid-stride kernels whose invocations all do the same work (elementwise ops, reductions) need
// only enough workgroups to give every llvmpipe thread a few: more only adds the fixed cost per
// workgroup. 4 per thread (LP_NUM_THREADS when set, else the cores): the DQN update's
// [32, 16, 8, 8] ReLU gradient 70 -> 44 us, its bias reduction 52 -> 38 us (256 -> 8 workgroups,
// docs/PERFORMANCE.md). VKWB_CPU_GROUPS=N overrides (tuning knob).
static uint32_t cpu_grid_groups() {
  static const uint32_t n = [] {
    if (const char* e = std::getenv("VKWB_CPU_GROUPS")) {
      int v = std::atoi(e);
      if (v < 1) throw Error(std::string("VKWB_CPU_GROUPS=") + e + ": expected a positive number of workgroups");
      return uint32_t(v);
    }
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    if (const char* e = std::getenv("LP_NUM_THREADS")) threads = unsigned(std::max(1, std::atoi(e)));
    return uint32_t(4 * threads);
  }();
  return n;
}

uint32_t groups_1d(const Device& dev, uint64_t n) {
  uint64_t l = local_1d(dev);
  uint64_t g = (n + l - 1) / l;
  return uint32_t(std::clamp<uint64_t>(g, 1, dev.info().type == "cpu" ? cpu_grid_groups() : max_groups(dev)));
}

void check_float(const Tensor& t, const char* op) {
  if (t.dtype() == DType::i32) throw Error(std::string(op) + ": expected a floating-point tensor, got int32");
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  if (&a.device() != &b.device())
    throw Error(std::string(op) + ": tensors on different devices (" + a.device().name() + ", " + b.device().name() + ")");
}

static VkDeviceSize byte_offset(const Tensor& t) { return t.impl()->storage->alloc.offset + t.impl()->offset; }

bool texel_ok(const Tensor& t, Texel kind) {
  Device& dev = t.device();
  if (dev.is_cpu() || !dev.info().texel_buffers) return false;
  if (const char* e = std::getenv("VKWB_TEXEL"); e && std::string(e) == "0") return false;
  VkDeviceSize off = byte_offset(t), tb = 4 * VkDeviceSize(texel_floats(kind));
  if (off % tb != 0) return false;
  auto block = t.impl()->storage->alloc.block;
  return (off + std::max<VkDeviceSize>(t.nbytes(), 4) + tb - 1) / tb <= dev.allocator().texel_count(block, int(kind));
}

int32_t texel_index(const Tensor& t, Texel kind) {
  if (!texel_ok(t, kind)) throw Error("internal: tensor " + t.shape().str() + " cannot be bound as a texel buffer");
  return int32_t(byte_offset(t) / (4 * VkDeviceSize(texel_floats(kind))));
}

KernelArg read_arg(const Tensor& t, int32_t& off, Texel kind) {
  if (texel_ok(t, kind)) {
    off = texel_index(t, kind);
    return texel(t, kind);
  }
  off = 0;
  return KernelArg(t);
}

bool storage_aligned(const Tensor& t) {
  return byte_offset(t) % std::max<uint32_t>(1, t.device().info().min_storage_buffer_offset_alignment) == 0;
}

bool vec4_ok(const Tensor& t) {
  if (const char* e = std::getenv("VKWB_VEC4"); e && std::string(e) == "0") return false;
  return t.dtype() == DType::f32 && byte_offset(t) % 16 == 0;
}

const char* profile_label(const char* label, const std::string& shape) {
  static const bool shapes = [] {
    const char* e = std::getenv("VKWB_PROFILE_SHAPES");
    return e && std::string(e) == "1";
  }();
  if (!shapes) return label;
  static std::mutex mu;
  static std::set<std::string> names;
  std::lock_guard<std::mutex> lock(mu);
  return names.insert(std::string(label) + " " + shape).first->c_str();
}

void launch_raw(Device& dev, ShaderId id, const std::vector<int32_t>& spec, const void* push, uint32_t push_size,
                std::initializer_list<KernelArg> bufs, uint32_t gx, uint32_t gy, uint32_t gz, const char* profile_name) {
  if (bufs.size() > kMaxBindings) throw Error("internal: too many bindings");
  const auto& info = dev.info();
  BufferArg args[kMaxBindings];
  std::vector<Tensor> keep;   // aligned copies, alive until recorded (frees are deferred)
  uint32_t i = 0, texel_mask = 0;
  for (const KernelArg& arg : bufs) {
    const Tensor& t = *arg.tensor;
    if (&t.device() != &dev) throw Error(std::string(shader_blob(id).name) + ": tensor on another device");
    const TensorImpl* impl = t.impl();
    VkBuffer buffer = impl->storage->alloc.buffer;
    if (arg.is_texel) {
      texel_index(t, arg.kind);   // validates
      args[i] = {buffer, 0, VK_WHOLE_SIZE, dev.allocator().texel_view(impl->storage->alloc.block, int(arg.kind))};
      texel_mask |= 1u << i++;
      continue;
    }
    VkDeviceSize off = byte_offset(t);
    VkDeviceSize range = std::max<VkDeviceSize>(t.nbytes(), 4);
    if (range > info.max_storage_buffer_range)
      throw Error(std::string(shader_blob(id).name) + ": tensor of " + std::to_string(range >> 20) +
                  " MiB exceeds maxStorageBufferRange (" + std::to_string(info.max_storage_buffer_range >> 20) + " MiB)");
    if (off % std::max<uint32_t>(1, info.min_storage_buffer_offset_alignment) != 0) {
      // A view at an unaligned offset (e.g. a row slice): bind an aligned copy. Views are only
      // ever read by kernels; outputs are always fresh, aligned allocations.
      Tensor c = Tensor::empty(t.shape(), dev, t.dtype());
      dev.stream().copy(buffer, off, c.impl()->storage->alloc.buffer, c.impl()->storage->alloc.offset, t.nbytes());
      buffer = c.impl()->storage->alloc.buffer;
      off = c.impl()->storage->alloc.offset;
      keep.push_back(c);
    }
    args[i++] = {buffer, off, range};
  }
  const Kernel& k = dev.kernels().get(id, spec, texel_mask);
  dev.stream().dispatch(k.pipeline, k.layout, args, i, push, push_size, gx, gy, gz, profile_name ? profile_name : k.name);
  // Every bound storage was read or written by this dispatch (Tensor::host_ptr_ready).
  const uint64_t epoch = dev.stream().pending_epoch();
  for (const KernelArg& arg : bufs) arg.tensor->impl()->storage->last_epoch = epoch;
}

}  // namespace vkwb::detail
