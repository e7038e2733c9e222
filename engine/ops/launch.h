// What every op implementation uses: launch a shader over tensors, or pick the CPU reference's
// element type. Ops only validate, pack push constants and call these.
#pragma once
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/ops/params.h"
#include "engine/tensor.h"
#include "shader_ids.h"

namespace vkwb::detail {

uint32_t local_1d(const Device& dev);                 // workgroup size of 1-D kernels
uint32_t groups_1d(const Device& dev, uint64_t n);    // capped; kernels use grid-stride loops
uint32_t max_groups(const Device& dev);               // the cap

// dx = dy * (y > 0): the gradient of a ReLU from its output (fused epilogues keep only y).
Tensor relu_grad_from_output(const Tensor& y, const Tensor& dy);

// How a kernel reads a tensor bound as a uniform texel buffer: one float, one 32-bit word (ints,
// bit copies), four or two floats per texel.
enum class Texel : int { f32 = 0, u32 = 1, f32x4 = 2, f32x2 = 3 };
inline int texel_floats(Texel k) { return k == Texel::f32x4 ? 4 : k == Texel::f32x2 ? 2 : 1; }

// A kernel binding: a tensor as a storage buffer (the default), or as a uniform texel buffer
// (`texel(t, Texel::f32x4)`). Texel bindings view the tensor's whole memory block; the kernel adds
// texel_index(t, kind) to its indices. Why: CPU drivers (llvmpipe) turn every storage-buffer
// load into a per-lane loop with a branch and a bounds check, a texel fetch into one gather.
struct KernelArg {
  KernelArg(const Tensor& t) : tensor(&t) {}  // NOLINT: implicit on purpose
  const Tensor* tensor;
  bool is_texel = false;
  Texel kind = Texel::f32;
};
inline KernelArg texel(const Tensor& t, Texel kind = Texel::f32) {
  KernelArg a(t);
  a.is_texel = true;
  a.kind = kind;
  return a;
}
// True when t can be bound as a texel buffer of `kind`: the device has texel buffers, t starts on
// a whole texel and lies inside its block's view. VKWB_TEXEL=0 turns texel reads off (tests use
// it to run the storage-buffer variants everywhere).
bool texel_ok(const Tensor& t, Texel kind = Texel::f32);
// True when a kernel may read and write t through a vec4 view of its storage-buffer binding: f32
// and the binding starts on 16 bytes (drivers may align bindings to only 4). VKWB_VEC4=0 turns
// vec4 access off (tests use it to run the float paths everywhere).
bool vec4_ok(const Tensor& t);
// True when t's storage binding starts on the device's minStorageBufferOffsetAlignment. Otherwise
// launch() binds an aligned copy, which is right for inputs only: ops that write through a view
// (the optimizer's in-place update) check this first.
bool storage_aligned(const Tensor& t);
// Index of t's first element in its block's view; throws when !texel_ok(t, kind).
int32_t texel_index(const Tensor& t, Texel kind = Texel::f32);
// The texel binding if texel_ok, else the storage buffer; `off` receives the texel index (or 0).
KernelArg read_arg(const Tensor& t, int32_t& off, Texel kind = Texel::f32);

void launch_raw(Device& dev, ShaderId id, const std::vector<int32_t>& spec, const void* push,
                uint32_t push_size, std::initializer_list<KernelArg> bufs, uint32_t gx, uint32_t gy, uint32_t gz,
                const char* profile_name = nullptr);

// `label` followed by " " + `shape` when VKWB_PROFILE_SHAPES=1 (per-layer rows in the profile
// tables), else `label`; the string lives as long as the process.
const char* profile_label(const char* label, const std::string& shape);

// profile_name (a string literal) labels the dispatch in VKWB_PROFILE tables instead of the
// shader's name, e.g. to tell a kernel's modes apart.
template <class P>
void launch(Device& dev, ShaderId id, const std::vector<int32_t>& spec, const P& p,
            std::initializer_list<KernelArg> bufs, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1,
            const char* profile_name = nullptr) {
  static_assert(sizeof(P) <= 128, "push constants must fit 128 bytes");
  launch_raw(dev, id, spec, &p, sizeof(P), bufs, gx, gy, gz, profile_name);
}

// Runs f(T{}) with T the floating type of `t` (float or double) on the CPU backend.
template <class F> void with_float_type(DType t, F&& f) {
  if (t == DType::f64) f(double{});
  else if (t == DType::f32) f(float{});
  else throw Error(std::string("expected a floating-point tensor, got ") + dtype_name(t));
}

// dst[dst_off + c.ds] = src[src_off + c.ss] for every coordinate c of `shape` (elements).
void strided_copy(const Tensor& src, const int64_t* ss, int64_t src_off, Tensor& dst, const int64_t* ds,
                  int64_t dst_off, const Shape& shape);
std::array<int64_t, kMaxDims> contiguous_strides(const Shape& s);

void check_float(const Tensor& t, const char* op);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
inline uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }
inline int32_t i32(int64_t v) { return static_cast<int32_t>(v); }
inline int norm_dim(int dim, int n, const char* op) {
  if (dim < -n || dim >= n) throw Error(std::string(op) + ": dim " + std::to_string(dim) + " out of range for " + std::to_string(n) + "-D tensor");
  return dim < 0 ? dim + n : dim;
}

}  // namespace vkwb::detail
