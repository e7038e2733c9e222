// Shape ops built on one strided-copy kernel (permute, narrow, concat, split, broadcast_to)
// and gather / scatter-add along a dimension. Forward and backward side by side.
#include <numeric>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/reference/reference.h"

namespace vkwb {
using namespace detail;

namespace detail {

std::array<int64_t, kMaxDims> contiguous_strides(const Shape& s) {
  std::array<int64_t, kMaxDims> st{};
  int64_t acc = 1;
  for (int i = s.n - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s.d[i];
  }
  return st;
}

// dst[dst_off + c.ds] = src[src_off + c.ss] over all coordinates c of `shape` (elements).
void strided_copy(const Tensor& src, const int64_t* ss, int64_t src_off, Tensor& dst, const int64_t* ds, int64_t dst_off,
             const Shape& shape) {
  Device& dev = src.device();
  int64_t n = shape.numel();
  if (n == 0) return;
  CopyP p{};
  p.n = u32(n);
  p.ndim = std::max(shape.n, 1);
  for (int i = 0; i < 5; ++i) p.shape[i] = 1;
  for (int i = 0; i < shape.n; ++i) {
    p.shape[i] = i32(shape.d[i]);
    p.ss[i] = i32(ss[i]);
    p.ds[i] = i32(ds[i]);
  }
  p.src_off = i32(src_off);
  p.dst_off = i32(dst_off);
  if (dev.is_cpu()) {
    if (src.dtype() == DType::f64) ref::strided_copy<double>(p, src.data<double>(), dst.data<double>());
    else ref::strided_copy<uint32_t>(p, src.data<uint32_t>(), dst.data<uint32_t>());
    return;
  }
  // Right-align to 5-D and use the 3-D grid when it fits the device's limits.
  CopyP q{};
  q.n = p.n;
  q.ndim = 5;
  int pad = 5 - shape.n;
  for (int i = 0; i < 5; ++i) {
    int j = i - pad;
    q.shape[i] = j >= 0 ? p.shape[j] : 1;
    q.ss[i] = j >= 0 ? p.ss[j] : 0;
    q.ds[i] = j >= 0 ? p.ds[j] : 0;
  }
  q.src_off = p.src_off;
  q.dst_off = p.dst_off;
  KernelArg in = read_arg(src, q.src_texel, Texel::u32);
  p.src_texel = q.src_texel;
  ShaderId id = in.is_texel ? ShaderId::strided_copy_texel : ShaderId::strided_copy;
  if (q.shape[4] >= 4) {
    launch(dev, id, {i32(local_1d(dev)), 1}, q, {in, dst}, groups_1d(dev, n / q.shape[4]));
  } else {
    launch(dev, id, {i32(local_1d(dev)), 0}, p, {in, dst}, groups_1d(dev, n));
  }
}

}  // namespace detail

Tensor contiguous_copy(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.device(), x.dtype());
  auto st = contiguous_strides(x.shape());
  strided_copy(x, st.data(), 0, out, st.data(), 0, x.shape());
  record("clone", out, {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  int n = x.dim();
  if (int(dims.size()) != n) throw Error("permute: " + std::to_string(dims.size()) + " dims for a " + std::to_string(n) + "-D tensor");
  std::vector<int> perm(n), seen(n, 0);
  for (int i = 0; i < n; ++i) {
    perm[i] = norm_dim(dims[i], n, "permute");
    if (seen[perm[i]]++) throw Error("permute: repeated dimension");
  }
  auto xs = contiguous_strides(x.shape());
  Shape out_shape = x.shape();
  int64_t ss[kMaxDims];
  for (int i = 0; i < n; ++i) {
    out_shape.d[i] = x.shape()[perm[i]];
    ss[i] = xs[perm[i]];
  }
  Tensor out = Tensor::empty(out_shape, x.device(), x.dtype());
  auto os = contiguous_strides(out_shape);
  strided_copy(x, ss, 0, out, os.data(), 0, out_shape);
  if (needs_grad({x})) {
    std::vector<int> inv(n);
    for (int i = 0; i < n; ++i) inv[perm[i]] = i;
    record("permute", out, {x}, [inv](const Tensor& g) { return std::vector<Tensor>{permute(g, inv)}; });
  }
  return out;
}

Tensor transpose(const Tensor& x, int d0, int d1) {
  std::vector<int> p(x.dim());
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[norm_dim(d0, x.dim(), "transpose")], p[norm_dim(d1, x.dim(), "transpose")]);
  return permute(x, p);
}

Tensor narrow(const Tensor& x, int dim, int64_t start, int64_t length) {
  int d = norm_dim(dim, x.dim(), "narrow");
  if (start < 0 || length < 0 || start + length > x.shape()[d])
    throw Error("narrow: [" + std::to_string(start) + ", " + std::to_string(start + length) + ") out of range for dim " +
                std::to_string(dim) + " of " + x.shape().str());
  Shape out_shape = x.shape();
  out_shape.d[d] = length;
  auto xs = contiguous_strides(x.shape());
  auto os = contiguous_strides(out_shape);
  Tensor out = Tensor::empty(out_shape, x.device(), x.dtype());
  strided_copy(x, xs.data(), start * xs[d], out, os.data(), 0, out_shape);
  if (needs_grad({x})) {
    Shape full = x.shape();
    record("narrow", out, {x}, [full, d, start](const Tensor& g) {
      Tensor dx = Tensor::zeros(full, g.device(), g.dtype());
      auto fs = contiguous_strides(full);
      auto gs = contiguous_strides(g.shape());
      strided_copy(g, gs.data(), 0, dx, fs.data(), start * fs[d], g.shape());
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  if (xs.empty()) throw Error("concat: no tensors");
  int d = norm_dim(dim, xs[0].dim(), "concat");
  Shape out_shape = xs[0].shape();
  out_shape.d[d] = 0;
  for (auto& t : xs) {
    check_same_device(t, xs[0], "concat");
    for (int i = 0; i < out_shape.n; ++i)
      if (i != d && (t.dim() != xs[0].dim() || t.shape()[i] != xs[0].shape()[i]))
        throw Error(shape_mismatch("concat", xs[0].shape(), t.shape()));
    out_shape.d[d] += t.shape()[d];
  }
  Tensor out = Tensor::empty(out_shape, xs[0].device(), xs[0].dtype());
  auto os = contiguous_strides(out_shape);
  int64_t offset = 0;
  std::vector<int64_t> sizes;
  for (auto& t : xs) {
    auto ts = contiguous_strides(t.shape());
    strided_copy(t, ts.data(), 0, out, os.data(), offset * os[d], t.shape());
    offset += t.shape()[d];
    sizes.push_back(t.shape()[d]);
  }
  record("concat", out, xs, [sizes, d](const Tensor& g) { return split(g, sizes, d); });
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim) {
  int d = norm_dim(dim, x.dim(), "split");
  int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t(0));
  if (total != x.shape()[d]) throw Error("split: sizes sum to " + std::to_string(total) + ", dim has " + std::to_string(x.shape()[d]));
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(x, d, start, s));
    start += s;
  }
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (broadcast_shapes(x.shape(), shape) != shape) throw Error(shape_mismatch("broadcast_to", x.shape(), shape));
  auto xs = contiguous_strides(x.shape());
  int64_t ss[kMaxDims] = {0, 0, 0, 0, 0};
  for (int i = 0; i < shape.n; ++i) {
    int j = i - (shape.n - x.dim());
    ss[i] = (j < 0 || x.shape()[j] == 1) ? 0 : xs[j];
  }
  Tensor out = Tensor::empty(shape, x.device(), x.dtype());
  auto os = contiguous_strides(shape);
  strided_copy(x, ss, 0, out, os.data(), 0, shape);
  Shape orig = x.shape();
  record("broadcast_to", out, {x}, [orig](const Tensor& g) { return std::vector<Tensor>{sum_to(g, orig)}; });
  return out;
}

static IndexP index_params(const Shape& xs, const Shape& is, int d, const char* op) {
  if (xs.n != is.n) throw Error(std::string(op) + ": index must have the same rank as the input");
  IndexP p{1, u32(xs[d]), u32(is[d]), 1};
  for (int i = 0; i < xs.n; ++i) {
    if (i != d && xs[i] != is[i]) throw Error(shape_mismatch(op, xs, is));
    if (i < d) p.outer *= u32(xs[i]);
    if (i > d) p.inner *= u32(xs[i]);
  }
  return p;
}

Tensor gather(const Tensor& x, int dim, const Tensor& index) {
  check_float(x, "gather");
  if (index.dtype() != DType::i32) throw Error("gather: index must be int32");
  int d = norm_dim(dim, x.dim(), "gather");
  IndexP p = index_params(x.shape(), index.shape(), d, "gather");
  Device& dev = x.device();
  Tensor y = Tensor::empty(index.shape(), dev, x.dtype());
  if (y.numel() > 0) {
    if (dev.is_cpu()) {
      with_float_type(x.dtype(), [&](auto t) {
        using T = decltype(t);
        ref::gather<T>(p, x.data<T>(), index.data<int32_t>(), y.data<T>());
      });
    } else {
      launch(dev, ShaderId::index, {i32(local_1d(dev)), 0}, p, {x, index, y}, groups_1d(dev, y.numel()));
    }
  }
  Shape xs = x.shape();
  record("gather", y, {x}, [xs, d, index](const Tensor& g) { return std::vector<Tensor>{scatter_add(g, d, index, xs)}; });
  return y;
}

Tensor scatter_add(const Tensor& src, int dim, const Tensor& index, const Shape& out_shape) {
  check_float(src, "scatter_add");
  if (index.dtype() != DType::i32) throw Error("scatter_add: index must be int32");
  if (src.shape() != index.shape()) throw Error(shape_mismatch("scatter_add", src.shape(), index.shape()));
  int d = norm_dim(dim, src.dim(), "scatter_add");
  IndexP p = index_params(out_shape, index.shape(), d, "scatter_add");
  Device& dev = src.device();
  Tensor x = Tensor::empty(out_shape, dev, src.dtype());
  if (x.numel() > 0) {
    if (dev.is_cpu()) {
      with_float_type(src.dtype(), [&](auto t) {
        using T = decltype(t);
        ref::scatter_add<T>(p, x.data<T>(), index.data<int32_t>(), src.data<T>());
      });
    } else {
      launch(dev, ShaderId::index, {i32(local_1d(dev)), 1}, p, {x, index, src}, groups_1d(dev, uint64_t(p.outer) * p.inner));
    }
  }
  record("scatter_add", x, {src}, [d, index](const Tensor& g) { return std::vector<Tensor>{gather(g, d, index)}; });
  return x;
}

Tensor one_hot(const Tensor& labels, int num_classes) {
  if (labels.dtype() != DType::i32 || labels.dim() != 1) throw Error("one_hot: labels must be 1-D int32");
  Tensor ones = Tensor::ones({labels.shape()[0], 1}, labels.device());
  return scatter_add(ones, 1, labels.reshape({labels.shape()[0], 1}), {labels.shape()[0], num_classes});
}

}  // namespace vkwb
