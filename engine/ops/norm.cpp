// Normalisation layers: batch norm (fused kernels, shaders/batchnorm.comp; batch statistics in
// training, running statistics in evaluation) and AlexNet's local response norm (composed).
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/reference/reference.h"

namespace vkwb {
using namespace detail;

namespace {

// One batchnorm.comp dispatch (see the shader for the modes). x, dy and k are read through texel
// buffers when all three can be (one shader variant for all three); absent inputs bind x, absent
// outputs and parameters bind `out` (the shader never touches them).
void launch_bn(Device& dev, int mode, BatchNormP p, const Tensor& x, const Tensor* dy, const Tensor* k, Tensor& out,
               const Tensor& w, const Tensor& b, Tensor* rm, Tensor* rv, uint32_t groups) {
  const Tensor& dyt = dy ? *dy : x;
  const Tensor& kt = k ? *k : x;
  bool tex = texel_ok(x) && texel_ok(dyt) && texel_ok(kt);
  auto in = [&](const Tensor& t, int32_t& off) -> KernelArg {
    off = tex ? texel_index(t) : 0;
    return tex ? texel(t) : KernelArg(t);
  };
  KernelArg ax = in(x, p.x_texel), ady = in(dyt, p.dy_texel), ak = in(kt, p.k_texel);
  launch(dev, tex ? ShaderId::batchnorm_texel : ShaderId::batchnorm, {i32(local_1d(dev)), mode}, p,
         {ax, ady, ak, out, w.defined() ? w : out, b.defined() ? b : out, rm ? *rm : out, rv ? *rv : out}, groups);
}

}  // namespace

// Fused: training is one reduction dispatch (per-channel mean and variance, running statistics)
// and one elementwise dispatch; backward the same two (per-channel sums, then dx). Evaluation uses
// the running statistics. PyTorch semantics: biased variance for normalising, unbiased for the
// running estimate.
Tensor batch_norm(const Tensor& x, Tensor& running_mean, Tensor& running_var, const Tensor& weight, const Tensor& bias,
                  bool training, float momentum, float eps) {
  check_float(x, "batch_norm");
  if (x.dim() != 2 && x.dim() != 4) throw Error("batch_norm: input must be [N, C] or [N, C, H, W], got " + x.shape().str());
  int64_t N = x.size(0), C = x.size(1), HW = x.dim() == 4 ? x.size(2) * x.size(3) : 1;
  for (const Tensor* t : std::initializer_list<const Tensor*>{&running_mean, &running_var, &weight, &bias}) {
    if (t->defined() && (t->dim() != 1 || t->size(0) != C))
      throw Error("batch_norm: parameter " + t->shape().str() + " does not match " + std::to_string(C) + " channels");
    if (t->defined()) check_same_device(x, *t, "batch_norm");
  }
  if (running_mean.defined() != running_var.defined()) throw Error("batch_norm: running mean and variance go together");
  if (training && N * HW < 2) throw Error("batch_norm: training needs more than one value per channel, got input " + x.shape().str());
  if (!training && !running_mean.defined()) throw Error("batch_norm: evaluation needs running statistics");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&running_mean, &running_var, &weight, &bias})
    if (t->defined() && t->dtype() != x.dtype()) throw Error("batch_norm: parameters must have the input's dtype");
  Device& dev = x.device();
  bool update = training && running_mean.defined();
  BatchNormP p{u32(N), u32(C), u32(HW), eps, momentum,
               (update ? 1 : 0) | (weight.defined() ? 2 : 0) | (bias.defined() ? 4 : 0) | (training ? 8 : 0), 0, 0, 0};
  Tensor stats = Tensor::empty({4 * C}, dev, x.dtype());
  Tensor y = Tensor::empty(x.shape(), dev, x.dtype());
  if (dev.is_cpu()) {
    with_float_type(x.dtype(), [&](auto t) {
      using T = decltype(t);
      auto ptr = [](const Tensor& u) { return u.defined() ? u.data<T>() : nullptr; };
      ref::batch_norm_stats<T>(p, x.data<T>(), ptr(weight), ptr(bias), ptr(running_mean), ptr(running_var), training,
                               stats.data<T>());
      ref::batch_norm_apply<T>(p, x.data<T>(), stats.data<T>(), y.data<T>());
    });
  } else {
    uint32_t cg = u32(std::min<int64_t>(C, max_groups(dev)));
    Tensor* rm = running_mean.defined() ? &running_mean : nullptr;
    Tensor* rv = running_var.defined() ? &running_var : nullptr;
    if (training) launch_bn(dev, 0, p, x, nullptr, nullptr, stats, weight, bias, rm, rv, cg);
    else launch_bn(dev, 1, p, x, nullptr, nullptr, stats, weight, bias, rm, rv, groups_1d(dev, C));
    launch_bn(dev, 2, p, x, nullptr, &stats, y, weight, bias, nullptr, nullptr, groups_1d(dev, x.numel()));
  }
  if (needs_grad({x, weight, bias})) {
    Tensor xd = x.detach(), wd = weight.defined() ? weight.detach() : Tensor();
    bool want_w = weight.defined() && weight.requires_grad(), want_b = bias.defined() && bias.requires_grad();
    record("batch_norm", y, {x, weight, bias}, [=](const Tensor& dy) {
      Device& d = xd.device();
      Tensor coef = Tensor::empty({5 * C}, d, xd.dtype());
      Tensor dx = Tensor::empty(xd.shape(), d, xd.dtype());
      BatchNormP q = p;
      q.flags &= ~1;
      if (d.is_cpu()) {
        with_float_type(xd.dtype(), [&](auto t) {
          using T = decltype(t);
          ref::batch_norm_backward<T>(q, xd.data<T>(), dy.data<T>(), wd.defined() ? wd.data<T>() : nullptr,
                                      stats.data<T>(), coef.data<T>(), dx.data<T>());
        });
      } else {
        launch_bn(d, 3, q, xd, &dy, &stats, coef, wd, Tensor(), nullptr, nullptr, u32(std::min<int64_t>(C, max_groups(d))));
        launch_bn(d, 4, q, xd, &dy, &coef, dx, wd, Tensor(), nullptr, nullptr, groups_1d(d, xd.numel()));
      }
      return std::vector<Tensor>{dx, want_w ? narrow(coef, 0, 0, C) : Tensor(),
                                 want_b ? narrow(coef, 0, C, C) : Tensor()};
    });
  }
  return y;
}

Tensor local_response_norm(const Tensor& x, int size, float alpha, float beta, float k) {
  if (x.dim() != 4) throw Error("local_response_norm: input must be [N, C, H, W], got " + x.shape().str());
  if (size < 1) throw Error("local_response_norm: size must be >= 1");
  int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  // Average of x^2 over a window of `size` channels (zero padded, divided by size), as PyTorch.
  Tensor sq = square(x).reshape({N, 1, C, HW});
  Pool2dOptions o;
  o.kh = size;
  o.kw = 1;
  o.stride_h = 1;
  o.stride_w = 1;
  o.pad_h = size / 2;
  o.count_include_pad = true;
  Tensor avg = avg_pool2d(sq, o);
  if (avg.size(2) != C) avg = narrow(avg, 2, 0, C);
  Tensor div_ = pow(affine(avg.reshape(x.shape()), alpha, k), beta);
  return div(x, div_);
}

}  // namespace vkwb
