// Reductions over one axis (viewed as [outer, R, inner]), full reductions, sum_to (the adjoint
// of broadcasting) and softmax / log-softmax. Forward and backward side by side.
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/reference/reference.h"

namespace vkwb {
using namespace detail;

namespace {

struct Axis { int64_t outer = 1, R = 1, inner = 1; };
Axis axis_of(const Shape& s, int d) {
  Axis a;
  for (int i = 0; i < d; ++i) a.outer *= s[i];
  a.R = s[d];
  for (int i = d + 1; i < s.n; ++i) a.inner *= s[i];
  return a;
}

Shape reduced_shape(const Shape& s, int d, bool keepdim) {
  Shape o;
  for (int i = 0; i < s.n; ++i) {
    if (i == d) {
      if (keepdim) o.d[o.n++] = 1;
    } else {
      o.d[o.n++] = s[i];
    }
  }
  return o;
}

Tensor reduce_raw(const Tensor& x, int d, bool keepdim, ReduceOp op, float ddof = 0.f) {
  Device& dev = x.device();
  Axis ax = axis_of(x.shape(), d);
  if (ax.R == 0) throw Error("reduction over an empty dimension of " + x.shape().str());
  bool arg = op == ReduceOp::argmax || op == ReduceOp::argmin;
  Tensor out = Tensor::empty(reduced_shape(x.shape(), d, keepdim), dev, arg ? DType::i32 : x.dtype());
  if (out.numel() == 0) return out;
  ReduceP p{u32(ax.outer), u32(ax.R), u32(ax.inner), ddof, 0};
  if (dev.is_cpu()) {
    with_float_type(x.dtype(), [&](auto t) {
      using T = decltype(t);
      ref::reduce<T>(op, p, x.data<T>(), arg ? nullptr : out.data<T>(), arg ? out.data<int32_t>() : nullptr);
    });
    return out;
  }
  uint64_t nout = uint64_t(ax.outer) * ax.inner;
  bool coop = nout < 256 && ax.R >= 512;
  uint32_t groups = coop ? uint32_t(std::min<uint64_t>(nout, dev.info().max_workgroup_count[0])) : groups_1d(dev, nout);
  // Three bindings always: value and index outputs alias the same buffer (only one is written).
  KernelArg in = read_arg(x, p.x_texel);
  launch(dev, in.is_texel ? ShaderId::reduce_texel : ShaderId::reduce, {i32(local_1d(dev)), int32_t(op), coop ? 1 : 0}, p,
         {in, out, out}, groups, 1u, 1u,
         profile_label(in.is_texel ? "reduce_texel" : "reduce",
                       "op" + std::to_string(int(op)) + " " + x.shape().str() + " d" + std::to_string(d)));
  return out;
}

// g has the reduced shape (keepdim or not); returns it viewed with the reduced dim kept as 1.
Tensor keep(const Tensor& g, const Shape& xs, int d) { return g.reshape(reduced_shape(xs, d, true)); }

}  // namespace

Tensor sum(const Tensor& x, int dim, bool keepdim) {
  check_float(x, "sum");
  int d = norm_dim(dim, x.dim(), "sum");
  Tensor out = reduce_raw(x, d, keepdim, ReduceOp::sum);
  Shape xs = x.shape();
  record("sum", out, {x}, [xs, d](const Tensor& g) { return std::vector<Tensor>{broadcast_to(keep(g, xs, d), xs)}; });
  return out;
}

Tensor mean(const Tensor& x, int dim, bool keepdim) {
  check_float(x, "mean");
  int d = norm_dim(dim, x.dim(), "mean");
  Tensor out = reduce_raw(x, d, keepdim, ReduceOp::mean);
  Shape xs = x.shape();
  float inv = 1.f / float(xs[d]);
  record("mean", out, {x}, [xs, d, inv](const Tensor& g) {
    return std::vector<Tensor>{broadcast_to(mul(keep(g, xs, d), inv), xs)};
  });
  return out;
}

static Tensor minmax(const Tensor& x, int dim, bool keepdim, bool is_max) {
  check_float(x, is_max ? "max" : "min");
  int d = norm_dim(dim, x.dim(), is_max ? "max" : "min");
  Tensor out = reduce_raw(x, d, keepdim, is_max ? ReduceOp::max : ReduceOp::min);
  if (needs_grad({x})) {
    // The gradient goes to the first extreme element only (PyTorch's max(dim) semantics).
    Tensor idx = reduce_raw(x.detach(), d, true, is_max ? ReduceOp::argmax : ReduceOp::argmin);
    Shape xs = x.shape();
    record(is_max ? "max" : "min", out, {x}, [xs, d, idx](const Tensor& g) {
      return std::vector<Tensor>{scatter_add(keep(g, xs, d), d, idx, xs)};
    });
  }
  return out;
}
Tensor max(const Tensor& x, int dim, bool keepdim) { return minmax(x, dim, keepdim, true); }
Tensor min(const Tensor& x, int dim, bool keepdim) { return minmax(x, dim, keepdim, false); }

Tensor argmax(const Tensor& x, int dim, bool keepdim) {
  check_float(x, "argmax");
  return reduce_raw(x, norm_dim(dim, x.dim(), "argmax"), keepdim, ReduceOp::argmax);
}
Tensor argmin(const Tensor& x, int dim, bool keepdim) {
  check_float(x, "argmin");
  return reduce_raw(x, norm_dim(dim, x.dim(), "argmin"), keepdim, ReduceOp::argmin);
}

Tensor var(const Tensor& x, int dim, bool unbiased, bool keepdim) {
  check_float(x, "var");
  int d = norm_dim(dim, x.dim(), "var");
  float ddof = unbiased ? 1.f : 0.f;
  if (x.shape()[d] - ddof <= 0) throw Error("var: not enough elements along dim " + std::to_string(dim));
  Tensor out = reduce_raw(x, d, keepdim, ReduceOp::var, ddof);
  if (needs_grad({x})) {
    Tensor xd = x.detach();
    Shape xs = x.shape();
    float scale = 2.f / (float(xs[d]) - ddof);
    record("var", out, {x}, [xd, xs, d, scale](const Tensor& g) {
      Tensor centered = sub(xd, reduce_raw(xd, d, true, ReduceOp::mean));
      return std::vector<Tensor>{mul(mul(centered, keep(g, xs, d)), scale)};
    });
  }
  return out;
}

Tensor sum(const Tensor& x) { return sum(x.reshape({x.numel()}), 0).reshape(Shape{}); }
Tensor mean(const Tensor& x) { return mean(x.reshape({x.numel()}), 0).reshape(Shape{}); }
Tensor max(const Tensor& x) { return max(x.reshape({x.numel()}), 0).reshape(Shape{}); }
Tensor var(const Tensor& x, bool unbiased) { return var(x.reshape({x.numel()}), 0, unbiased).reshape(Shape{}); }

Tensor sum_to(const Tensor& x, const Shape& target) {
  if (x.shape() == target) return x;
  if (target.n > x.dim()) throw Error(shape_mismatch("sum_to", x.shape(), target));
  const int lead = x.dim() - target.n;
  bool summed[kMaxDims] = {};
  for (int i = 0; i < x.dim(); ++i) {
    int j = i - lead;
    summed[i] = j < 0 || target.d[j] == 1;
    if (!summed[i] && target.d[j] != x.shape()[i]) throw Error(shape_mismatch("sum_to", x.shape(), target));
  }
  // Each run of adjacent summed dims is one reduction over their product (tensors are
  // contiguous): a conv bias gradient [N, C, H, W] -> [1, C, 1, 1] is two dispatches, not three.
  Tensor t = x;
  Shape cur = x.shape();
  for (int e = x.dim() - 1; e >= 0; --e) {
    if (!summed[e]) continue;
    int b = e;
    while (b > 0 && summed[b - 1]) --b;
    int64_t r = 1;
    for (int k = b; k <= e; ++k) r *= cur[k];
    if (r > 1) {
      Shape v;
      for (int k = 0; k < b; ++k) v.d[v.n++] = cur[k];
      v.d[v.n++] = r;
      for (int k = e + 1; k < cur.n; ++k) v.d[v.n++] = cur[k];
      t = sum(t.reshape(v), b, true);
      for (int k = b; k <= e; ++k) cur.d[k] = 1;
      t = t.reshape(cur);
    }
    e = b;
  }
  return t.reshape(target);
}

static Tensor softmax_impl(const Tensor& x, int dim, bool is_log) {
  check_float(x, "softmax");
  int d = norm_dim(dim, x.dim(), "softmax");
  Device& dev = x.device();
  Axis ax = axis_of(x.shape(), d);
  Tensor y = Tensor::empty(x.shape(), dev, x.dtype());
  SoftmaxP p{u32(ax.outer), u32(ax.R), u32(ax.inner)};
  if (y.numel() > 0) {
    if (dev.is_cpu()) {
      with_float_type(x.dtype(), [&](auto t) {
        using T = decltype(t);
        ref::softmax<T>(is_log, p, x.data<T>(), y.data<T>());
      });
    } else {
      launch(dev, ShaderId::softmax, {i32(local_1d(dev)), is_log ? 1 : 0}, p, {x, y}, groups_1d(dev, ax.outer * ax.inner));
    }
  }
  if (needs_grad({x})) {
    Tensor yd = y.detach();
    record(is_log ? "log_softmax" : "softmax", y, {x}, [yd, p, is_log](const Tensor& g) {
      Device& dev = g.device();
      Tensor dx = Tensor::empty(g.shape(), dev, g.dtype());
      if (dev.is_cpu()) {
        with_float_type(g.dtype(), [&](auto t) {
          using T = decltype(t);
          ref::softmax_grad<T>(is_log, p, yd.data<T>(), g.data<T>(), dx.data<T>());
        });
      } else {
        launch(dev, ShaderId::softmax_grad, {i32(local_1d(dev)), is_log ? 1 : 0}, p, {yd, g, dx},
               groups_1d(dev, uint64_t(p.outer) * p.inner));
      }
      return std::vector<Tensor>{dx};
    });
  }
  return y;
}
Tensor softmax(const Tensor& x, int dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int dim) { return softmax_impl(x, dim, true); }

}  // namespace vkwb
