#include "engine/tensor.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/reference/reference.h"
#include "engine/stream.h"

namespace vkwb {

size_t dtype_size(DType t) { return t == DType::f64 ? 8 : 4; }
const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::i32: return "int32";
    case DType::f64: return "float64";
  }
  return "?";
}

Shape::Shape(std::initializer_list<int64_t> dims) {
  if (dims.size() > kMaxDims) throw Error("tensors have at most 5 dimensions, got " + std::to_string(dims.size()));
  for (int64_t v : dims) d[n++] = v;
}
Shape Shape::of(const std::vector<int64_t>& dims) {
  if (dims.size() > kMaxDims) throw Error("tensors have at most 5 dimensions, got " + std::to_string(dims.size()));
  Shape s;
  for (int64_t v : dims) s.d[s.n++] = v;
  return s;
}
int64_t Shape::numel() const {
  int64_t p = 1;
  for (int i = 0; i < n; ++i) p *= d[i];
  return p;
}
std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}
bool Shape::operator==(const Shape& o) const {
  if (n != o.n) return false;
  for (int i = 0; i < n; ++i)
    if (d[i] != o.d[i]) return false;
  return true;
}

std::string shape_mismatch(const char* op, const Shape& a, const Shape& b) {
  return std::string(op) + ": shape mismatch " + a.str() + " vs " + b.str();
}

Storage::Storage(Device& d, size_t b) : dev(&d), bytes(b) { alloc = d.allocator().allocate(std::max<size_t>(b, 4)); }
Storage::~Storage() { dev->allocator().free(alloc); }

static std::shared_ptr<TensorImpl> make_impl(const Shape& s, Device& dev, DType t) {
  for (int i = 0; i < s.n; ++i)
    if (s.d[i] < 0) throw Error("negative dimension in shape " + s.str());
  if (t == DType::f64 && !dev.is_cpu()) throw Error("float64 tensors exist only on the cpu device");
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = s;
  impl->dtype = t;
  size_t bytes = size_t(s.numel()) * dtype_size(t);
  if (!dev.is_cpu() && bytes > dev.info().max_storage_buffer_range)
    throw Error("tensor " + s.str() + " needs " + std::to_string(bytes >> 20) + " MiB, more than " + dev.name() +
                "'s maxStorageBufferRange (" + std::to_string(dev.info().max_storage_buffer_range >> 20) +
                " MiB) that one kernel binding can see; split the work into smaller tensors");
  impl->storage = std::make_shared<Storage>(dev, bytes);
  return impl;
}

Tensor Tensor::empty(const Shape& s, Device& dev, DType t) { return Tensor(make_impl(s, dev, t)); }

Tensor Tensor::full(const Shape& s, double v, Device& dev, DType t) {
  Tensor r = empty(s, dev, t);
  fill_(r, v);
  return r;
}
Tensor Tensor::zeros(const Shape& s, Device& dev, DType t) { return full(s, 0.0, dev, t); }

static void upload(Tensor& t, const void* data, size_t bytes, bool fresh) {
  Device& dev = t.device();
  if (bytes == 0) return;
  if (dev.allocator().host_visible()) {
    // Fresh storage is never touched by pending GPU work (the allocator defers frees), so no
    // sync is needed; overwriting a live tensor waits for the work that may read it.
    std::memcpy(t.host_ptr(fresh), data, bytes);
    return;
  }
  auto& st = dev.allocator().staging(bytes);
  dev.stream().sync();   // the staging buffer may still feed an earlier copy
  std::memcpy(st.mapped, data, bytes);
  auto* impl = t.impl();
  dev.stream().copy(st.buffer, 0, impl->storage->alloc.buffer, impl->storage->alloc.offset + impl->offset, bytes);
  impl->storage->last_epoch = dev.stream().pending_epoch();
}

template <class E>
static Tensor from_span(std::span<const E> data, const Shape& s, Device& dev, DType t) {
  if (int64_t(data.size()) != s.numel())
    throw Error("Tensor::from: " + std::to_string(data.size()) + " values do not fill shape " + s.str());
  Tensor r = Tensor::empty(s, dev, t);
  upload(r, data.data(), data.size() * sizeof(E), true);
  return r;
}
Tensor Tensor::from(std::span<const float> d, const Shape& s, Device& dev) { return from_span(d, s, dev, DType::f32); }
Tensor Tensor::from(std::span<const int32_t> d, const Shape& s, Device& dev) { return from_span(d, s, dev, DType::i32); }
Tensor Tensor::from(std::span<const double> d, const Shape& s, Device& dev) { return from_span(d, s, dev, DType::f64); }

void Tensor::copy_from_host(const void* data, size_t bytes) {
  if (bytes != nbytes()) throw Error("copy_from_host: " + std::to_string(bytes) + " bytes for a tensor of " + std::to_string(nbytes()));
  upload(*this, data, bytes, false);
}

void* Tensor::host_ptr(bool nosync) const {
  Device& dev = device();
  if (!dev.allocator().host_visible()) throw Error("tensor memory on " + dev.name() + " is not host-visible");
  if (!nosync) dev.sync();
  return static_cast<char*>(impl_->storage->alloc.mapped) + impl_->offset;
}

void* Tensor::host_ptr_ready() const {
  Device& dev = device();
  if (dev.is_cpu()) return host_ptr();
  if (!dev.allocator().host_visible()) throw Error("tensor memory on " + dev.name() + " is not host-visible");
  if (uint64_t e = impl_->storage->last_epoch) dev.stream().wait_epoch(e);
  return static_cast<char*>(impl_->storage->alloc.mapped) + impl_->offset;
}

bool Tensor::host_resident() const {
  Device& dev = device();
  return !dev.is_cpu() && dev.allocator().host_visible() && impl_->storage->last_epoch == 0;
}

static void download(const Tensor& t, void* out) {
  Device& dev = t.device();
  size_t bytes = t.nbytes();
  if (bytes == 0) return;
  if (dev.allocator().host_visible()) {
    std::memcpy(out, t.host_ptr(), bytes);
    return;
  }
  auto& st = dev.allocator().staging(bytes);
  auto* impl = t.impl();
  dev.stream().copy(impl->storage->alloc.buffer, impl->storage->alloc.offset + impl->offset, st.buffer, 0, bytes);
  impl->storage->last_epoch = dev.stream().pending_epoch();
  dev.sync();
  std::memcpy(out, st.mapped, bytes);
}

std::vector<float> Tensor::to_vector() const {
  if (dtype() != DType::f32) {
    auto d = to_dvector();
    return {d.begin(), d.end()};
  }
  std::vector<float> v(numel());
  download(*this, v.data());
  return v;
}
std::vector<int32_t> Tensor::to_ivector() const {
  if (dtype() != DType::i32) throw Error(std::string("to_ivector on a ") + dtype_name(dtype()) + " tensor");
  std::vector<int32_t> v(numel());
  download(*this, v.data());
  return v;
}
std::vector<double> Tensor::to_dvector() const {
  std::vector<double> out(numel());
  if (dtype() == DType::f64) {
    download(*this, out.data());
  } else if (dtype() == DType::f32) {
    std::vector<float> v(numel());
    download(*this, v.data());
    std::copy(v.begin(), v.end(), out.begin());
  } else {
    auto v = to_ivector();
    std::copy(v.begin(), v.end(), out.begin());
  }
  return out;
}
float Tensor::item() const {
  if (numel() != 1) throw Error("item() needs a one-element tensor, got shape " + shape().str());
  return float(to_dvector()[0]);
}

Tensor Tensor::reshape(const Shape& s_in) const {
  Shape s = s_in;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.n; ++i) {
    if (s.d[i] == -1) {
      if (infer >= 0) throw Error("reshape: more than one -1 in " + s_in.str());
      infer = i;
    } else {
      known *= s.d[i];
    }
  }
  if (infer >= 0 && known > 0 && numel() % known == 0) s.d[infer] = numel() / known;
  if (s.numel() != numel()) throw Error("reshape: cannot view " + shape().str() + " as " + s_in.str());
  auto impl = std::make_shared<TensorImpl>(*impl_);
  impl->shape = s;
  impl->grad.reset();
  impl->grad_fn.reset();
  impl->requires_grad = false;
  Tensor out(impl);
  Shape orig = shape();
  record("reshape", out, {*this}, [orig](const Tensor& g) { return std::vector<Tensor>{g.reshape(orig)}; });
  return out;
}

Tensor Tensor::flatten(int start_dim) const {
  int sd = detail::norm_dim(start_dim, dim(), "flatten");
  std::vector<int64_t> dims(shape().d.begin(), shape().d.begin() + sd);
  int64_t rest = 1;
  for (int i = sd; i < dim(); ++i) rest *= shape()[i];
  dims.push_back(rest);
  return reshape(Shape::of(dims));
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  if (dim() == 0) throw Error("slice: scalar tensor");
  int64_t n0 = shape()[0];
  if (begin < 0 || end > n0 || begin > end)
    throw Error("slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range for dim 0 of " + shape().str());
  auto impl = std::make_shared<TensorImpl>(*impl_);
  int64_t row = n0 ? numel() / n0 : 0;
  impl->shape.d[0] = end - begin;
  impl->offset += size_t(begin * row) * dtype_size(dtype());
  impl->grad.reset();
  impl->grad_fn.reset();
  impl->requires_grad = false;
  Tensor out(impl);
  if (needs_grad({*this})) {
    Shape full = shape();
    record("slice", out, {*this}, [full, begin](const Tensor& g) {
      // Pad the gradient back to the full first dimension.
      Tensor z = Tensor::zeros(full, g.device(), g.dtype());
      std::vector<Tensor> parts;
      if (begin > 0) parts.push_back(z.slice(0, begin));
      parts.push_back(g);
      if (begin + g.shape()[0] < full[0]) parts.push_back(z.slice(begin + g.shape()[0], full[0]));
      return std::vector<Tensor>{concat(parts, 0)};
    });
  }
  return out;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>(*impl_);
  impl->grad.reset();
  impl->grad_fn.reset();
  impl->requires_grad = false;
  return Tensor(impl);
}

Tensor& Tensor::requires_grad_(bool on) {
  if (on && dtype() == DType::i32) throw Error("only floating-point tensors can require grad");
  impl_->requires_grad = on;
  return *this;
}

void Tensor::backward(const Tensor& grad_output) const { run_backward(*this, grad_output); }

Tensor Tensor::clone() const {
  Tensor out = contiguous_copy(*this);
  return out;
}

Tensor Tensor::to(Device& dev) const {
  if (&dev == &device()) return detach();
  if (dtype() == DType::i32) return Tensor::from(to_ivector(), shape(), dev);
  if (dev.is_cpu() && dtype() == DType::f64) return Tensor::from(to_dvector(), shape(), dev);
  return Tensor::from(to_vector(), shape(), dev);
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return detach();
  Device& dev = device();
  if (dev.is_cpu()) {
    auto v = to_dvector();
    if (t == DType::f64) return Tensor::from(v, shape(), dev);
    if (t == DType::f32) return Tensor::from(std::vector<float>(v.begin(), v.end()), shape(), dev);
    std::vector<int32_t> iv(v.size());
    for (size_t i = 0; i < v.size(); ++i) iv[i] = int32_t(v[i]);
    return Tensor::from(iv, shape(), dev);
  }
  if (t == DType::f64) throw Error("float64 tensors exist only on the cpu device");
  Tensor out = Tensor::empty(shape(), dev, t);
  ConvertP p{detail::u32(numel())};
  detail::launch(dev, ShaderId::convert, {int32_t(detail::local_1d(dev)), t == DType::i32 ? 1 : 0}, p, {*this, out},
                 detail::groups_1d(dev, numel()));
  return out;
}

}  // namespace vkwb
