// Elementwise ops: unary (one kernel, op by specialization constant), binary with broadcasting,
// fill/copy, counter-based random numbers and dropout. Forward and backward side by side.
#include <bit>
#include <cmath>
#include <cstring>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/reference/reference.h"
#include "engine/stream.h"

namespace vkwb {
using namespace detail;

// ---------------------------------------------------------------------------------------------
// unary

static Tensor unary_grad(const Tensor& x, const Tensor& y, const Tensor& dy, UnaryOp op, float a, float b) {
  Device& dev = x.device();
  Tensor dx = Tensor::empty(x.shape(), dev, x.dtype());
  UnaryP p{u32(x.numel()), a, b};
  if (dev.is_cpu()) {
    with_float_type(x.dtype(), [&](auto t) {
      using T = decltype(t);
      ref::unary_grad<T>(op, p, x.data<T>(), y.data<T>(), dy.data<T>(), dx.data<T>());
    });
  } else {
    bool v4 = vec4_ok(x) && vec4_ok(y) && vec4_ok(dy) && vec4_ok(dx);
    launch(dev, ShaderId::unary_grad, {i32(local_1d(dev)), int32_t(op), v4 ? 1 : 0}, p, {x, y, dy, dx},
           groups_1d(dev, v4 ? (x.numel() + 3) / 4 : x.numel()), 1u, 1u,
           profile_label("unary_grad", "op" + std::to_string(int(op)) + " " + x.shape().str()));
  }
  return dx;
}

Tensor unary(const Tensor& x, UnaryOp op, float a, float b) {
  check_float(x, "unary op");
  Device& dev = x.device();
  Tensor y = Tensor::empty(x.shape(), dev, x.dtype());
  UnaryP p{u32(x.numel()), a, b};
  if (x.numel() > 0) {
    if (dev.is_cpu()) {
      with_float_type(x.dtype(), [&](auto t) {
        using T = decltype(t);
        ref::unary<T>(op, p, x.data<T>(), y.data<T>());
      });
    } else {
      // Four elements per access where x starts on a whole RGBA32F texel (or 16 bytes of its
      // storage buffer); y is fresh, hence aligned.
      bool v4 = vec4_ok(y) && (texel_ok(x, Texel::f32x4) || (!texel_ok(x) && vec4_ok(x)));
      KernelArg in = read_arg(x, p.x_texel, v4 ? Texel::f32x4 : Texel::f32);
      launch(dev, in.is_texel ? ShaderId::unary_texel : ShaderId::unary, {i32(local_1d(dev)), int32_t(op), v4 ? 1 : 0}, p,
             {in, y}, groups_1d(dev, v4 ? (x.numel() + 3) / 4 : x.numel()));
    }
  }
  if (needs_grad({x})) {
    Tensor xs = x.detach(), ys = y.detach();
    record("unary", y, {x}, [xs, ys, op, a, b](const Tensor& g) {
      return std::vector<Tensor>{unary_grad(xs, ys, g, op, a, b)};
    });
  }
  return y;
}

namespace detail {
Tensor relu_grad_from_output(const Tensor& y, const Tensor& dy) { return unary_grad(y, y, dy, UnaryOp::relu, 0.f, 0.f); }
}  // namespace detail

Tensor relu(const Tensor& x) { return unary(x, UnaryOp::relu); }
Tensor leaky_relu(const Tensor& x, float slope) { return unary(x, UnaryOp::leaky_relu, slope); }
Tensor elu(const Tensor& x, float alpha) { return unary(x, UnaryOp::elu, alpha); }
Tensor sigmoid(const Tensor& x) { return unary(x, UnaryOp::sigmoid); }
Tensor tanh(const Tensor& x) { return unary(x, UnaryOp::tanh); }
Tensor softplus(const Tensor& x) { return unary(x, UnaryOp::softplus); }
Tensor silu(const Tensor& x) { return unary(x, UnaryOp::silu); }
Tensor gelu(const Tensor& x, bool tanh_approximation) { return unary(x, tanh_approximation ? UnaryOp::gelu_tanh : UnaryOp::gelu); }
Tensor exp(const Tensor& x) { return unary(x, UnaryOp::exp); }
Tensor log(const Tensor& x) { return unary(x, UnaryOp::log); }
Tensor sqrt(const Tensor& x) { return unary(x, UnaryOp::sqrt); }
Tensor abs(const Tensor& x) { return unary(x, UnaryOp::abs); }
Tensor neg(const Tensor& x) { return unary(x, UnaryOp::neg); }
Tensor clamp(const Tensor& x, float lo, float hi) { return unary(x, UnaryOp::clamp, lo, hi); }
Tensor square(const Tensor& x) { return unary(x, UnaryOp::square); }
Tensor pow(const Tensor& x, float e) { return unary(x, UnaryOp::pow, e); }
Tensor mul(const Tensor& x, float s) { return unary(x, UnaryOp::affine, s, 0.f); }
Tensor add(const Tensor& x, float s) { return unary(x, UnaryOp::affine, 1.f, s); }
Tensor affine(const Tensor& x, float a, float b) { return unary(x, UnaryOp::affine, a, b); }

// ---------------------------------------------------------------------------------------------
// binary

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  Shape out;
  out.n = std::max(a.n, b.n);
  for (int i = 0; i < out.n; ++i) {
    int64_t da = i < out.n - a.n ? 1 : a.d[i - (out.n - a.n)];
    int64_t db = i < out.n - b.n ? 1 : b.d[i - (out.n - b.n)];
    if (da != db && da != 1 && db != 1) throw Error(shape_mismatch("broadcast", a, b));
    out.d[i] = da == 1 ? db : da;
  }
  return out;
}

// Strides (elements) of `s` read as shape `out` (right-aligned; 0 on broadcast dimensions).
static void broadcast_strides(const Shape& s, const Shape& out, int32_t* st) {
  int64_t stride = 1;
  for (int i = out.n - 1; i >= 0; --i) {
    int j = i - (out.n - s.n);
    if (j < 0 || s.d[j] == 1) st[i] = 0;
    else st[i] = i32(stride);
    if (j >= 0) stride *= s.d[j];
  }
}

static Tensor binary_raw(const Tensor& a, const Tensor& b, BinaryOp op) {
  Device& dev = a.device();
  Shape out_shape = broadcast_shapes(a.shape(), b.shape());
  Tensor o = Tensor::empty(out_shape, dev, a.dtype());
  if (o.numel() == 0) return o;
  BinaryP p{};
  p.n = u32(o.numel());
  p.ndim = std::max(out_shape.n, 1);
  for (int i = 0; i < 5; ++i) p.shape[i] = 1;
  if (out_shape.n == 0) {
    p.sa[0] = p.sb[0] = 0;
  } else {
    for (int i = 0; i < out_shape.n; ++i) p.shape[i] = i32(out_shape.d[i]);
    broadcast_strides(a.shape(), out_shape, p.sa);
    broadcast_strides(b.shape(), out_shape, p.sb);
  }
  if (dev.is_cpu()) {
    with_float_type(a.dtype(), [&](auto t) {
      using T = decltype(t);
      ref::binary<T>(op, p, a.data<T>(), b.data<T>(), o.data<T>());
    });
  } else {
    bool same = a.shape() == b.shape();
    bool v4 = same && vec4_ok(a) && vec4_ok(b) && vec4_ok(o);
    launch(dev, ShaderId::binary, {i32(local_1d(dev)), int32_t(op), same ? 0 : 1, v4 ? 1 : 0}, p, {a, b, o},
           groups_1d(dev, v4 ? (o.numel() + 3) / 4 : o.numel()));
  }
  return o;
}

Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) {
  check_float(a, "binary op");
  check_float(b, "binary op");
  check_same_device(a, b, "binary op");
  if (a.dtype() != b.dtype()) throw Error("binary op: dtype mismatch");
  Tensor o = binary_raw(a, b, op);
  if (op >= BinaryOp::ge || !needs_grad({a, b})) return o;
  Tensor ad = a.detach(), bd = b.detach(), od = o.detach();
  Shape sa = a.shape(), sb = b.shape();
  record("binary", o, {a, b}, [=](const Tensor& g) -> std::vector<Tensor> {
    Tensor ga, gb;
    switch (op) {
      case BinaryOp::add: ga = g; gb = g; break;
      case BinaryOp::sub: ga = g; gb = neg(g); break;
      case BinaryOp::mul: ga = mul(g, bd); gb = mul(g, ad); break;
      case BinaryOp::div: ga = div(g, bd); gb = neg(div(mul(g, od), bd)); break;
      case BinaryOp::max: ga = mul(g, ge(ad, bd)); gb = mul(g, lt(ad, bd)); break;
      case BinaryOp::min: ga = mul(g, binary_raw(ad, bd, BinaryOp::le)); gb = mul(g, gt(ad, bd)); break;
      case BinaryOp::pow: ga = mul(g, mul(bd, pow(ad, add(bd, -1.f)))); gb = mul(g, mul(od, log(ad))); break;
      default: break;
    }
    return {sum_to(ga, sa), sum_to(gb, sb)};
  });
  return o;
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::add); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::sub); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::mul); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::div); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::max); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::min); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::pow); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::ge); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::gt); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::eq); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::lt); }

// ---------------------------------------------------------------------------------------------
// fill, copy

void fill_(Tensor& t, double value) {
  Device& dev = t.device();
  if (t.numel() == 0) return;
  if (dev.is_cpu()) {
    if (t.dtype() == DType::f64) std::fill_n(t.data<double>(), t.numel(), value);
    else if (t.dtype() == DType::f32) std::fill_n(t.data<float>(), t.numel(), float(value));
    else std::fill_n(t.data<int32_t>(), t.numel(), int32_t(value));
    return;
  }
  uint32_t bits = t.dtype() == DType::i32 ? uint32_t(int32_t(value)) : std::bit_cast<uint32_t>(float(value));
  FillP p{u32(t.numel()), bits};
  launch(dev, ShaderId::fill, {i32(local_1d(dev))}, p, {t}, groups_1d(dev, t.numel()));
}

void copy_(Tensor& dst, const Tensor& src) {
  if (dst.shape() != src.shape()) throw Error(shape_mismatch("copy_", dst.shape(), src.shape()));
  if (dst.dtype() != src.dtype()) throw Error("copy_: dtype mismatch");
  check_same_device(dst, src, "copy_");
  Device& dev = dst.device();
  if (src.numel() == 0) return;
  if (dev.is_cpu()) {
    std::memcpy(dst.host_ptr(), src.host_ptr(), src.nbytes());
    return;
  }
  auto* s = src.impl();
  auto* d = dst.impl();
  dev.stream().copy(s->storage->alloc.buffer, s->storage->alloc.offset + s->offset, d->storage->alloc.buffer,
                    d->storage->alloc.offset + d->offset, src.nbytes());
  s->storage->last_epoch = d->storage->last_epoch = dev.stream().pending_epoch();
}

// ---------------------------------------------------------------------------------------------
// random

static Tensor random(const Shape& s, Device& dev, uint64_t seed, RandomDist dist, float a, float b) {
  Tensor t = Tensor::empty(s, dev);
  if (t.numel() == 0) return t;
  PhiloxP p{u32(t.numel()), uint32_t(seed), uint32_t(seed >> 32), a, b};
  if (dev.is_cpu()) ref::philox<float>(dist, p, t.data<float>());
  else launch(dev, ShaderId::philox, {i32(local_1d(dev)), int32_t(dist)}, p, {t}, groups_1d(dev, t.numel()));
  return t;
}

Tensor Tensor::rand(const Shape& s, Device& dev, uint64_t seed, float lo, float hi) {
  return random(s, dev, seed, RandomDist::uniform, lo, hi);
}
Tensor Tensor::randn(const Shape& s, Device& dev, uint64_t seed, float mean, float std) {
  return random(s, dev, seed, RandomDist::normal, mean, std);
}
Tensor Tensor::bernoulli(const Shape& s, Device& dev, uint64_t seed, float p) {
  return random(s, dev, seed, RandomDist::bernoulli, p, 0.f);
}

Tensor dropout(const Tensor& x, float p, uint64_t seed, bool training) {
  if (p < 0.f || p >= 1.f) throw Error("dropout: p must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0.f) return x;
  Tensor keep = Tensor::bernoulli(x.shape(), x.device(), seed, 1.f - p);
  if (x.dtype() == DType::f64) keep = keep.to(DType::f64);
  return mul(x, mul(keep, 1.f / (1.f - p)));
}

}  // namespace vkwb
