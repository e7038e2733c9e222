// The fused optimizer update kernel (one dispatch per parameter tensor or arena).
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/reference/reference.h"

namespace vkwb {
using namespace detail;

void optim_update(const OptimStep& s, Tensor& param, const Tensor& grad, Tensor* s1, Tensor* s2, Tensor* s3,
                  const Tensor* grad_scale) {
  if (param.shape() != grad.shape()) throw Error(shape_mismatch("optimizer step", param.shape(), grad.shape()));
  for (Tensor* t : {s1, s2, s3})
    if (t && t->numel() != param.numel()) throw Error(shape_mismatch("optimizer state", param.shape(), t->shape()));
  Device& dev = param.device();
  OptimP p{u32(param.numel()), s.lr, s.weight_decay, s.a, s.b, s.eps, s.c1, s.c2, s.flag ? 1 : 0, s.momentum, s.first ? 1 : 0};
  if (param.numel() == 0) return;
  if (dev.is_cpu()) {
    with_float_type(param.dtype(), [&](auto t) {
      using T = decltype(t);
      T scale = grad_scale ? T(grad_scale->to_dvector()[0]) : T(1);
      ref::optim<T>(s.op, p, param.data<T>(), grad.data<T>(), s1 ? s1->data<T>() : nullptr, s2 ? s2->data<T>() : nullptr,
                    s3 ? s3->data<T>() : nullptr, scale);
    });
    return;
  }
  // Updated in place: an unaligned view would be bound as a copy and the writes lost.
  for (const Tensor* t : std::initializer_list<const Tensor*>{&param, s1, s2, s3})
    if (t && !storage_aligned(*t)) throw Error("optimizer step: a parameter or state view off a storage-buffer boundary");
  Tensor one;   // optimizers pass their own scale tensor; this is for one-off calls
  const Tensor* scale = grad_scale;
  if (!scale) {
    one = Tensor::ones({1}, dev);
    scale = &one;
  }
  const Tensor& a = s1 ? *s1 : param;
  const Tensor& b = s2 ? *s2 : a;
  const Tensor& c = s3 ? *s3 : a;
  bool v4 = vec4_ok(param) && vec4_ok(grad) && vec4_ok(a) && vec4_ok(b) && vec4_ok(c);
  launch(dev, ShaderId::optim, {i32(local_1d(dev)), int32_t(s.op), v4 ? 1 : 0, s.flag ? 1 : 0, s.momentum > 0.f ? 1 : 0}, p, {param, grad, a, b, c, *scale},
         groups_1d(dev, v4 ? (param.numel() + 3) / 4 : param.numel()));
}

}  // namespace vkwb
