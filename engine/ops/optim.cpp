// The fused optimizer update kernel (one dispatch per parameter tensor or arena), and the same
// update on the host for CPU drivers.
#include <algorithm>
#include <cmath>

#include "engine/ops.h"
#include "engine/ops/gemm.h"
#include "engine/ops/launch.h"
#include "engine/reference/reference.h"

namespace vkwb {
using namespace detail;

// shaders/optim.comp's update() in float, operation for operation (no contraction: this file is
// built with -ffp-contract=off), so that it gives the kernel's results bit for bit (tested). Why
// it exists: on a CPU driver the device's memory is the host's, and llvmpipe pays a loop over the
// SIMD lanes per storage access (7 per parameter for centred RMSprop: 5.6 ns per parameter, the
// DQN's single most expensive dispatch), while this loop is plain vector code.
template <OptimOp OP, bool FLAG, bool MOM>
static inline __attribute__((always_inline)) void host_update(const OptimP& p, float* __restrict prm, const float* __restrict grad,
                                                              float* __restrict s1, float* __restrict s2, float* __restrict s3,
                                                              float gs) {
  const float lr = p.lr, wd = p.wd, a = p.a, b = p.b, eps = p.eps, c1 = p.c1, c2 = p.c2, mom = p.mom;
  const float one_a = 1.0f - a, one_b = 1.0f - b;
  const bool first = p.first == 1;
  for (uint32_t i = 0; i < p.n; ++i) {
    float w = prm[i], g = grad[i] * gs;
    if (!(OP == OptimOp::adam && FLAG)) g += wd * w;
    if constexpr (OP == OptimOp::sgd) {
      w -= lr * g;
    } else if constexpr (OP == OptimOp::momentum) {
      float v = first ? g : a * s1[i] + one_b * g;
      s1[i] = v;
      w -= lr * (FLAG ? g + a * v : v);
    } else if constexpr (OP == OptimOp::adagrad) {
      float t = s1[i] + g * g;
      s1[i] = t;
      w -= lr * g / (std::sqrt(t) + eps);
    } else if constexpr (OP == OptimOp::adadelta) {
      float t1 = s1[i], t2 = s2[i];
      float sq = a * t1 + one_a * g * g;
      float d = std::sqrt(t2 + eps) / std::sqrt(sq + eps) * g;
      s1[i] = sq;
      s2[i] = a * t2 + one_a * d * d;
      w -= lr * d;
    } else if constexpr (OP == OptimOp::rmsprop) {
      float t1 = a * s1[i] + one_a * g * g;
      s1[i] = t1;
      float avg = t1;
      if constexpr (FLAG) {
        float t2 = a * s2[i] + one_a * g;
        s2[i] = t2;
        avg = t1 - t2 * t2;
      }
      float upd = g / (std::sqrt(std::max(avg, 0.0f)) + eps);
      if constexpr (MOM) {
        float t3 = mom * s3[i] + upd;
        s3[i] = t3;
        upd = t3;
      }
      w -= lr * upd;
    } else {
      if constexpr (FLAG) w *= 1.0f - lr * wd;
      float t1 = a * s1[i] + one_a * g;
      float t2 = b * s2[i] + one_b * g * g;
      s1[i] = t1;
      s2[i] = t2;
      w -= lr * (t1 / c1) / (std::sqrt(t2 / c2) + eps);
    }
    prm[i] = w;
  }
}

// The loop compiled three times: for the baseline x86-64 (SSE2, 4 floats a vector), AVX2 (8) and
// AVX-512 (16); host_gemm_isa() picks one (the best the CPU has). Every one is the same IEEE
// arithmetic per element (multiplies, adds, divisions and square roots are correctly rounded in
// each instruction set, nothing is fused), so all give the kernel's results. Adam over LeNet-5's
// 62k parameters took ~115 us per step in the SSE2 loop, on the host core a queue thread shares.
#define VKWB_HOST_UPDATE_ARGS \
  const OptimP &p, float *__restrict prm, const float *__restrict grad, float *__restrict s1, float *__restrict s2, \
      float *__restrict s3, float gs
#if defined(__x86_64__) || defined(__i386__)
template <OptimOp OP, bool FLAG, bool MOM>
__attribute__((target("avx2"))) static void host_update_avx2(VKWB_HOST_UPDATE_ARGS) {
  host_update<OP, FLAG, MOM>(p, prm, grad, s1, s2, s3, gs);
}
template <OptimOp OP, bool FLAG, bool MOM>
__attribute__((target("avx512f,prefer-vector-width=512"))) static void host_update_avx512(VKWB_HOST_UPDATE_ARGS) {
  host_update<OP, FLAG, MOM>(p, prm, grad, s1, s2, s3, gs);
}
#endif
template <OptimOp OP, bool FLAG, bool MOM>
static void host_update_isa(VKWB_HOST_UPDATE_ARGS) {
#if defined(__x86_64__) || defined(__i386__)
  const int isa = host_gemm_isa();
  if (isa == 2) return host_update_avx512<OP, FLAG, MOM>(p, prm, grad, s1, s2, s3, gs);
  if (isa == 1) return host_update_avx2<OP, FLAG, MOM>(p, prm, grad, s1, s2, s3, gs);
#endif
  host_update<OP, FLAG, MOM>(p, prm, grad, s1, s2, s3, gs);   // (baseline code)
}
#undef VKWB_HOST_UPDATE_ARGS

template <OptimOp OP>
static void host_update_op(const OptimP& p, bool flag, bool mom, float* prm, const float* grad, float* s1, float* s2,
                           float* s3, float gs) {
  if (flag) {
    if (mom) host_update_isa<OP, true, true>(p, prm, grad, s1, s2, s3, gs);
    else host_update_isa<OP, true, false>(p, prm, grad, s1, s2, s3, gs);
  } else {
    if (mom) host_update_isa<OP, false, true>(p, prm, grad, s1, s2, s3, gs);
    else host_update_isa<OP, false, false>(p, prm, grad, s1, s2, s3, gs);
  }
}


void host_optim_update(const OptimStep& s, size_t n, float* w, const float* g, float* t1, float* t2, float* t3, float gs) {
  if (n == 0) return;
  OptimP p{u32(n), s.lr, s.weight_decay, s.a, s.b, s.eps, s.c1, s.c2, s.flag ? 1 : 0, s.momentum, s.first ? 1 : 0};
  bool mom = s.momentum > 0.f;
  switch (s.op) {
    case OptimOp::sgd: host_update_op<OptimOp::sgd>(p, s.flag, false, w, g, t1, t2, t3, gs); break;
    case OptimOp::momentum: host_update_op<OptimOp::momentum>(p, s.flag, false, w, g, t1, t2, t3, gs); break;
    case OptimOp::adagrad: host_update_op<OptimOp::adagrad>(p, s.flag, false, w, g, t1, t2, t3, gs); break;
    case OptimOp::adadelta: host_update_op<OptimOp::adadelta>(p, s.flag, false, w, g, t1, t2, t3, gs); break;
    case OptimOp::rmsprop: host_update_op<OptimOp::rmsprop>(p, s.flag, mom, w, g, t1, t2, t3, gs); break;
    case OptimOp::adam: host_update_op<OptimOp::adam>(p, s.flag, false, w, g, t1, t2, t3, gs); break;
  }
}

bool host_optim_supported(const Device& dev) {
  return !dev.is_cpu() && dev.runs_on_host_cores() && dev.allocator().host_visible();
}

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
  if (s.on_host && host_optim_supported(dev) && param.dtype() == DType::f32 && grad.dtype() == DType::f32) {
    // Waits only for the recorded device work that touches these tensors (the device may go on
    // with other layers' gradients); the host then writes the memory the next submission reads
    // (host-visible, coherent: vkQueueSubmit makes the writes visible).
    float gs = grad_scale ? grad_scale->data_ready<float>()[0] : 1.0f;
    float* w = param.data_ready<float>();
    const float* g = grad.data_ready<float>();
    float* t1 = s1 ? s1->data_ready<float>() : nullptr;
    float* t2 = s2 ? s2->data_ready<float>() : nullptr;
    float* t3 = s3 ? s3->data_ready<float>() : nullptr;
    host_optim_update(s, size_t(param.numel()), w, g, t1, t2, t3, gs);
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
         groups_1d(dev, v4 ? (param.numel() + 3) / 4 : param.numel()), 1, 1,
         profile_label("optim", std::to_string(param.numel())));
}

}  // namespace vkwb
