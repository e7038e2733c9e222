// Tensor: a cheap handle (shape, dtype, offset) over shared device storage, with the autograd
// fields (requires_grad, grad, grad_fn). Contiguous, up to 5-D. Ops record into the device's
// stream; nothing waits until the host needs a value (item(), to_vector()).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/memory.h"

namespace vkwb {

enum class DType : uint8_t { f32, i32, f64 };   // f64 only on the CPU reference backend
size_t dtype_size(DType t);
const char* dtype_name(DType t);

constexpr int kMaxDims = 5;

struct Shape {
  std::array<int64_t, kMaxDims> d{};
  int n = 0;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  static Shape of(const std::vector<int64_t>& dims);
  int64_t operator[](int i) const { return d[i < 0 ? i + n : i]; }
  int64_t& operator[](int i) { return d[i < 0 ? i + n : i]; }
  int64_t numel() const;
  int dim() const { return n; }
  std::vector<int64_t> vec() const { return {d.begin(), d.begin() + n}; }
  std::string str() const;
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
};

struct Storage {
  Device* dev;
  Allocation alloc;
  size_t bytes;
  // The stream epoch of the last recorded device command (kernel or copy) that read or wrote
  // this storage (0: none); Tensor::host_ptr_ready waits for that epoch only.
  uint64_t last_epoch = 0;
  Storage(Device& d, size_t b);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct Node;
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::f32;
  size_t offset = 0;                 // bytes into storage
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient (leaves)
  std::shared_ptr<Node> grad_fn;     // how this tensor was made (non-leaves)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // --- creation --------------------------------------------------------------------------
  static Tensor empty(const Shape& s, Device& dev, DType t = DType::f32);
  static Tensor zeros(const Shape& s, Device& dev, DType t = DType::f32);
  static Tensor ones(const Shape& s, Device& dev) { return full(s, 1.0, dev); }
  static Tensor full(const Shape& s, double v, Device& dev, DType t = DType::f32);
  static Tensor from(std::span<const float> data, const Shape& s, Device& dev);
  static Tensor from(std::span<const int32_t> data, const Shape& s, Device& dev);
  static Tensor from(std::span<const double> data, const Shape& s, Device& dev);   // CPU only
  static Tensor from(const std::vector<float>& v, const Shape& s, Device& dev) { return from(std::span<const float>(v), s, dev); }
  static Tensor from(const std::vector<int32_t>& v, const Shape& s, Device& dev) { return from(std::span<const int32_t>(v), s, dev); }
  static Tensor from(const std::vector<double>& v, const Shape& s, Device& dev) { return from(std::span<const double>(v), s, dev); }
  // Counter-based (Philox) random numbers: the same seed gives the same numbers on every device.
  static Tensor rand(const Shape& s, Device& dev, uint64_t seed, float lo = 0.f, float hi = 1.f);
  static Tensor randn(const Shape& s, Device& dev, uint64_t seed, float mean = 0.f, float std = 1.f);
  static Tensor bernoulli(const Shape& s, Device& dev, uint64_t seed, float p);

  // --- inspection --------------------------------------------------------------------------
  bool defined() const { return bool(impl_); }
  const Shape& shape() const { return impl_->shape; }
  int dim() const { return impl_->shape.n; }
  int64_t size(int d) const { return impl_->shape[d]; }
  int64_t numel() const { return impl_->shape.numel(); }
  DType dtype() const { return impl_->dtype; }
  Device& device() const { return *impl_->storage->dev; }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype()); }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // --- host access (these synchronise) -------------------------------------------------------
  std::vector<float> to_vector() const;
  std::vector<int32_t> to_ivector() const;
  std::vector<double> to_dvector() const;     // any dtype, converted
  float item() const;
  void copy_from_host(const void* data, size_t bytes);   // overwrite contents (same size)

  // --- views and copies ----------------------------------------------------------------------
  Tensor reshape(const Shape& s) const;       // shares storage; -1 in one dim is inferred
  Tensor view(const Shape& s) const { return reshape(s); }
  Tensor flatten(int start_dim = 1) const;
  Tensor slice(int64_t begin, int64_t end) const;   // along dim 0, shares storage
  Tensor clone() const;                        // differentiable copy
  Tensor to(Device& dev) const;                // copy to another device (not differentiable)
  Tensor to(DType t) const;                    // dtype conversion (CPU backend: any; GPU: f32<->i32)

  // --- autograd ------------------------------------------------------------------------------
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);
  Tensor grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  bool is_leaf() const { return !impl_->grad_fn; }
  Tensor detach() const;                       // same storage, no history
  void backward(const Tensor& grad_output = Tensor()) const;

  // Raw host pointer for host-visible memory (CPU backend or unified memory); syncs first
  // unless `nosync`. Throws on devices whose memory is not mappable.
  template <class T> T* data(bool nosync = false) const { return static_cast<T*>(host_ptr(nosync)); }
  void* host_ptr(bool nosync = false) const;
  // Host access (host-visible memory) that waits only for the recorded device work touching this
  // tensor's storage, submitting it if needed, while later work keeps running: e.g. the host
  // optimizer updating one layer while the device computes an earlier layer's gradients. Reads
  // and writes both count (dispatches do not say which bindings they write), so a host read
  // also waits for later device reads.
  template <class T> T* data_ready() const { return static_cast<T*>(host_ptr_ready()); }
  void* host_ptr_ready() const;
  // Whether this tensor lives in memory the host maps on a Vulkan device and no device command
  // has read or written its storage yet: whatever it holds the host wrote (a host op, an upload),
  // and the host can read it without waiting. Host ops that consume it (the host loss,
  // cross_entropy) then keep a chain of host layers free of device round trips.
  bool host_resident() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::string shape_mismatch(const char* op, const Shape& a, const Shape& b);

}  // namespace vkwb
