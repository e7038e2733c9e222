// What every op implementation uses: launch a shader over tensors, or pick the CPU reference's
// element type. Ops only validate, pack push constants and call these.
#pragma once
#include <initializer_list>
#include <vector>

#include "engine/error.h"
#include "engine/ops/params.h"
#include "engine/tensor.h"
#include "shader_ids.h"

namespace vkwb::detail {

uint32_t local_1d(const Device& dev);                 // workgroup size of 1-D kernels
uint32_t groups_1d(const Device& dev, uint64_t n);    // capped; kernels use grid-stride loops
uint32_t max_groups(const Device& dev);               // the cap

// A kernel binding: a tensor as a storage buffer (the default), or as a uniform texel buffer of
// 1 or 4 floats per texel (`texel(t, 4)`). Texel bindings view the tensor's whole memory block;
// the kernel adds texel_index(t, comps) to its indices. CPU drivers turn storage-buffer loads
// into a per-lane loop with bounds checks, texel fetches into one vector gather.
struct KernelArg {
  KernelArg(const Tensor& t) : tensor(&t) {}  // NOLINT: implicit on purpose
  const Tensor* tensor;
  int texel = 0;   // 0: storage buffer, 1: R32F texels, 4: RGBA32F texels
};
inline KernelArg texel(const Tensor& t, int comps) {
  KernelArg a(t);
  a.texel = comps;
  return a;
}
// Index of t's first element in its block's texel view of `comps` floats per texel. Throws when
// t's offset is not a whole texel or t lies beyond the view (callers check texel_ok first).
int32_t texel_index(const Tensor& t, int comps);
bool texel_ok(const Tensor& t, int comps);   // the device has texel buffers and t fits a view

void launch_raw(Device& dev, ShaderId id, const std::vector<int32_t>& spec, const void* push,
                uint32_t push_size, std::initializer_list<KernelArg> bufs, uint32_t gx, uint32_t gy, uint32_t gz);

template <class P>
void launch(Device& dev, ShaderId id, const std::vector<int32_t>& spec, const P& p,
            std::initializer_list<KernelArg> bufs, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1) {
  static_assert(sizeof(P) <= 128, "push constants must fit 128 bytes");
  launch_raw(dev, id, spec, &p, sizeof(P), bufs, gx, gy, gz);
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
