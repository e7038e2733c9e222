// Matrix products: one GEMM kernel family (register-blocked for CPU devices, shared-memory tiles
// for GPUs) behind matmul and linear. Forward and backward side by side.
#include "engine/ops/gemm.h"

#include <cstdlib>
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/stream.h"
#include "engine/reference/reference.h"

namespace vkwb {
using namespace detail;

const char* gemm_variant(const Device& dev) {
  const char* env = std::getenv("VKWB_GEMM");
  if (env && std::strcmp(env, "tiled") == 0) return "tiled";
  if (env && std::strcmp(env, "register") == 0) return "register";
  if (env && std::strcmp(env, "texel") == 0 && dev.info().texel_buffers) return "texel";
  if (dev.info().type != "cpu") return "tiled";
  return dev.info().texel_buffers ? "texel" : "register";
}

namespace detail {

void gemm_into(const GemmCall& g, const Tensor& A, const Tensor& B, Tensor& C, const Tensor* bias) {
  Device& dev = C.device();
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  GemmP p{g.M, g.N, g.K, g.lda, g.ldb, g.ldc, i32(g.sa), i32(g.sb), i32(g.sc), g.alpha, g.beta, g.batch};
  bool use_beta = g.beta != 0.f;
  if (dev.is_cpu()) {
    with_float_type(C.dtype(), [&](auto t) {
      using T = decltype(t);
      ref::gemm<T>(g.ta, g.tb, g.bias_mode, use_beta, p, g.batch, A.data<T>(), B.data<T>(), C.data<T>(),
                   bias ? bias->data<T>() : nullptr, g.relu);
    });
    return;
  }
  if (uint32_t(g.batch) > dev.info().max_workgroup_count[2]) throw Error("gemm: batch too large for one dispatch");
  const Tensor& bb = bias ? *bias : C;   // unused binding aliases C
  std::vector<int32_t> spec;
  const char* variant = gemm_variant(dev);
  if (std::strcmp(variant, "texel") == 0 && texel_ok(A) && texel_ok(B)) {
    // Four floats per fetch where the operand's rows (and batch strides) are whole texels.
    int va = texel_ok(A, Texel::f32x4) && g.lda % 4 == 0 && g.sa % 4 == 0 ? 4 : 1;
    int vb = texel_ok(B, Texel::f32x4) && g.ldb % 4 == 0 && g.sb % 4 == 0 ? 4 : 1;
    Texel ka = va == 4 ? Texel::f32x4 : Texel::f32, kb = vb == 4 ? Texel::f32x4 : Texel::f32;
    // Register tile: big where M and N allow (fewer fetches per FMA), small where they don't
    // (no wasted rows).
    // On llvmpipe the texel gathers bound the loop, and fewer, bigger tiles beat more, smaller
    // ones even below one tile per SIMD lane: the DQN update's GEMMs on one thread (16x8 vs the
    // old rule's 4x8 / 8x8), fc1 forward 1561 -> 583 us, fc1 dW 1704 -> 1080 us, conv dW
    // 449 -> 323 us (docs/PERFORMANCE.md). So shrink only below 8 tiles (one SIMD group).
    int tm = g.M >= 16 ? 16 : g.M > 4 ? 8 : 4, tn = g.N > 4 ? 8 : 4;
    auto ntiles = [&] { return ((g.M + tm - 1) / tm) * ((g.N + tn - 1) / tn) * int64_t(g.batch); };
    while (tm > 4 && ntiles() < 8) tm /= 2;
    // Short K with a big output (weight gradients at batch 32-64): each tile's fixed costs (its
    // set-up and vec4 stores) weigh more against only K/4 chunks, so 16 x 16: the DQN's fc1 dW
    // (M 128 N 1024 K 32) 552-569 -> 489-516 us, LeNet-5's fc1 dW 339-342 -> 312-321 us on one
    // thread (docs/PERFORMANCE.md).
    if (g.K <= 64 && g.M >= 64 && g.N >= 256) tn = 16;
    if (const char* e = std::getenv("VKWB_GEMM_TILE")) {   // tuning knob: TMxTN, multiples of 4 up to 32
      if (std::sscanf(e, "%dx%d", &tm, &tn) != 2 || tm < 4 || tn < 4 || tm > 32 || tn > 32 || tm % 4 || tn % 4)
        throw Error(std::string("VKWB_GEMM_TILE=") + e + ": expected TMxTN with multiples of 4 up to 32, e.g. 16x8");
    }
    GemmTexelP tp{p, texel_index(A, ka), 0, texel_index(B, kb), 0};
    tp.limA = tp.offA + i32((std::max<int64_t>(A.numel(), 1) + va - 1) / va) - 1;
    tp.limB = tp.offB + i32((std::max<int64_t>(B.numel(), 1) + vb - 1) / vb) - 1;
    int64_t tiles = ntiles();
    // Small products: smaller workgroups, so that there are enough of them for every core.
    uint32_t local = local_1d(dev);
    while (local > 8 && tiles < int64_t(local) * 8) local /= 2;
    int vc = vec4_ok(C) && g.ldc % 4 == 0 && g.sc % 4 == 0 ? (g.N % 4 == 0 ? 2 : 1) : 0;
    int kc = 4;   // K steps per chunk: 8 and 16 measured no faster (docs/PERFORMANCE.md)
    if (const char* e = std::getenv("VKWB_GEMM_KC")) {   // tuning knob
      kc = std::atoi(e);
      if (kc < 4 || kc > 16 || kc % 4) throw Error(std::string("VKWB_GEMM_KC=") + e + ": expected 4, 8, 12 or 16");
    }
    spec = {i32(local), tm, g.ta, g.tb, g.bias_mode, use_beta, va, vb, tn, vc, g.relu, kc};
    uint32_t groups = uint32_t(std::clamp<int64_t>((tiles + local - 1) / local, 1, max_groups(dev)));
    launch(dev, ShaderId::gemm_texel, spec, tp, {texel(A, ka), texel(B, kb), C, bb}, groups, 1u, 1u,
           profile_label("gemm_texel", "M" + std::to_string(g.M) + " N" + std::to_string(g.N) + " K" +
                                           std::to_string(g.K) + (g.ta ? " At" : "") + (g.tb ? " Bt" : "") + " " +
                                           std::to_string(tm) + "x" + std::to_string(tn)));
  } else if (std::strcmp(variant, "tiled") == 0) {
    spec = {16, 16, g.ta, g.tb, g.bias_mode, use_beta, g.relu};
    launch(dev, ShaderId::gemm_tiled, spec, p, {A, B, C, bb}, uint32_t((g.N + 63) / 64), uint32_t((g.M + 63) / 64),
           uint32_t(g.batch));
  } else {
    const int64_t tm = 4, tn = 16;   // the shader's register tile
    int64_t tiles = ((g.M + tm - 1) / tm) * ((g.N + tn - 1) / tn) * g.batch;
    bool vec = !g.tb && g.ldb % 4 == 0 && g.sb % 4 == 0 && (B.impl()->offset / 4) % 4 == 0;
    spec = {i32(local_1d(dev)), 0, g.ta, g.tb, g.bias_mode, use_beta, vec ? 1 : 0, g.relu};
    launch(dev, ShaderId::gemm, spec, p, {A, B, C, bb}, groups_1d(dev, tiles));
  }
}

}  // namespace detail

// op(A) op(B) for 2-D or batched 3-D operands, no autograd.
static Tensor mm_raw(const Tensor& a, const Tensor& b, bool ta, bool tb, float alpha) {
  bool batched = a.dim() == 3;
  int B = batched ? int(a.shape()[0]) : 1;
  int ar = int(a.shape()[-2]), ac = int(a.shape()[-1]), br = int(b.shape()[-2]), bc = int(b.shape()[-1]);
  GemmCall g;
  g.ta = ta;
  g.tb = tb;
  g.M = ta ? ac : ar;
  g.K = ta ? ar : ac;
  g.N = tb ? br : bc;
  int kb = tb ? bc : br;
  if (g.K != kb) throw Error("matmul: inner dimensions differ: " + a.shape().str() + (ta ? "^T" : "") + " x " + b.shape().str() + (tb ? "^T" : ""));
  g.batch = B;
  g.lda = ac;
  g.ldb = bc;
  g.ldc = g.N;
  g.sa = batched ? int64_t(ar) * ac : 0;
  g.sb = batched ? int64_t(br) * bc : 0;
  g.sc = int64_t(g.M) * g.N;
  g.alpha = alpha;
  Tensor c = batched ? Tensor::empty({B, g.M, g.N}, a.device(), a.dtype()) : Tensor::empty({g.M, g.N}, a.device(), a.dtype());
  if (g.K == 0) {
    fill_(c, 0.0);
    return c;
  }
  gemm_into(g, a, b, c, nullptr);
  return c;
}

Tensor matmul(const Tensor& a, const Tensor& b, const GemmOptions& o) {
  check_float(a, "matmul");
  check_float(b, "matmul");
  check_same_device(a, b, "matmul");
  if (!((a.dim() == 2 && b.dim() == 2) || (a.dim() == 3 && b.dim() == 3 && a.shape()[0] == b.shape()[0])))
    throw Error("matmul: expected 2-D x 2-D or batched 3-D x 3-D, got " + a.shape().str() + " x " + b.shape().str());
  Tensor c = mm_raw(a, b, o.trans_a, o.trans_b, o.alpha);
  if (needs_grad({a, b})) {
    Tensor ad = a.detach(), bd = b.detach();
    bool ta = o.trans_a, tb = o.trans_b;
    float alpha = o.alpha;
    record("matmul", c, {a, b}, [=](const Tensor& g) {
      Tensor ga = ta ? mm_raw(bd, g, tb, true, alpha) : mm_raw(g, bd, false, !tb, alpha);
      Tensor gb = tb ? mm_raw(g, ad, true, ta, alpha) : mm_raw(ad, g, !ta, false, alpha);
      return std::vector<Tensor>{ga, gb};
    });
  }
  return c;
}

const char* linear_exec_name(LinearExec e) {
  return e == LinearExec::host ? "host" : e == LinearExec::host_wgrad ? "host_wgrad" : "device";
}

LinearExec parse_linear_exec(const std::string& name, const std::string& what) {
  for (LinearExec e : {LinearExec::device, LinearExec::host_wgrad, LinearExec::host})
    if (name == linear_exec_name(e)) return e;
  throw Error(what + "=" + name + ": expected device, host_wgrad or host");
}

bool host_linear_supported(const Device& dev) {
  return !dev.is_cpu() && dev.runs_on_host_cores() && dev.allocator().host_visible() &&
         host_gemm_fast();
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias, Epilogue act, LinearExec exec) {
  check_float(x, "linear");
  if (x.dim() != 2 || w.dim() != 2 || x.shape()[1] != w.shape()[1])
    throw Error("linear: input " + x.shape().str() + " does not match weight " + w.shape().str() + " ([out, in])");
  if (bias.defined() && (bias.dim() != 1 || bias.shape()[0] != w.shape()[0]))
    throw Error("linear: bias " + bias.shape().str() + " does not match weight " + w.shape().str());
  int N = int(x.shape()[0]), in = int(x.shape()[1]), out = int(w.shape()[0]);
  Tensor y = Tensor::empty({N, out}, x.device(), x.dtype());
  const bool host_ok = exec != LinearExec::device && N > 0 && in > 0 && x.dtype() == DType::f32 &&
                       w.dtype() == DType::f32 && host_linear_supported(x.device());
  const bool host_all = host_ok && exec == LinearExec::host;
  GemmCall g;
  g.tb = true;
  g.M = N;
  g.N = out;
  g.K = in;
  g.lda = in;
  g.ldb = in;
  g.ldc = out;
  g.bias_mode = bias.defined() ? 1 : 0;
  bool relu = act == Epilogue::relu;
  g.relu = relu;
  if (in == 0) {
    // An empty product: y is the bias (or 0), broadcast over the batch.
    if (bias.defined()) y = broadcast_to(bias.detach().reshape({1, out}), Shape{N, out});
    else fill_(y, 0.0);
    if (relu) y = vkwb::relu(y);
  } else if (host_all) {
    // The device waits while the host computes y (about 2.7x faster than llvmpipe's kernel).
    host_linear_forward(N, in, out, x.data_ready<float>(), w.data_ready<float>(),
                        bias.defined() ? bias.data_ready<float>() : nullptr, relu, y.data<float>(true));
  } else {
    gemm_into(g, x, w, y, bias.defined() ? &bias : nullptr);
  }
  if (needs_grad({x, w, bias})) {
    Tensor xd = x.detach(), wd = w.detach();
    bool has_bias = bias.defined();
    Tensor ys = relu ? y.detach() : Tensor();
    const bool need_x = x.requires_grad(), need_w = w.requires_grad();
    const bool host_wgrad = host_ok && need_w;
    record(relu ? "linear+relu" : "linear", y, {x, w, bias}, [=](const Tensor& gy_out) {
      if (host_all) {
        // The whole backward on the host, the device's numbers bit for bit: the ReLU mask (dy
        // times 0 or 1, as unary_grad.comp), dX and the bias gradient (each column summed row by
        // row from 0, as reduce.comp) now, dW deferred. A head of such layers (and a host loss,
        // cross_entropy) then has no device work between its layers, and the device waits for
        // the host only once per pass instead of once per layer (docs/PERFORMANCE.md, 2026-12-08).
        Device& dev = gy_out.device();
        const float* go = gy_out.data_ready<float>();
        Tensor gy = gy_out;
        if (relu) {
          gy = Tensor::empty({N, out}, dev, DType::f32);
          const float* yv = ys.data<float>(true);   // written by the host forward
          float* g = gy.data<float>(true);
          for (size_t k = 0; k < size_t(N) * size_t(out); ++k) g[k] = go[k] * (yv[k] > 0.f ? 1.f : 0.f);
        }
        const float* g = gy.data<float>(true);
        Tensor gx, gw, gb;
        if (need_x) {
          gx = Tensor::empty({N, in}, dev, DType::f32);
          host_gemm_nn(N, in, out, g, wd.data_ready<float>(), gx.data<float>(true));
        }
        if (has_bias) {
          gb = Tensor::empty({out}, dev, DType::f32);
          float* b = gb.data<float>(true);
          for (int o = 0; o < out; ++o) b[o] = 0.f;
          for (int n = 0; n < N; ++n)
            for (int o = 0; o < out; ++o) b[o] += g[size_t(n) * out + o];
        }
        if (need_w) {
          gw = Tensor::empty({out, in}, dev, DType::f32);
          defer_host_grad(gw, [gy, xd, gw, N, in, out] {   // x: waited for by the forward
            host_gemm_tn(out, in, N, gy.data<float>(true), xd.data<float>(true), gw.data<float>(true));
          });
        }
        return std::vector<Tensor>{gx, gw, gb};
      }
      Tensor gy = relu ? relu_grad_from_output(ys, gy_out) : gy_out;
      Tensor gw;
      if (host_wgrad) {
        // gy is recorded: submit it, then let the host compute dW while the device goes on with
        // dX and whatever backward work follows. The task waits for this epoch, not through
        // data_ready: x's storage is read again later in the backward pass (the previous layer's
        // ReLU mask), and data_ready, which counts reads too, would wait for all of it
        // (1,055-1,105 vs 885-915 updates/s, bench dqn).
        Device& dev = gy.device();
        const uint64_t ready = dev.stream().flush_epoch();
        gw = Tensor::empty({out, in}, dev, DType::f32);
        defer_host_grad(gw, [gy, xd, gw, ready, &dev, N, in, out] {
          dev.stream().wait_epoch(ready);
          host_gemm_tn(out, in, N, gy.data<float>(true), xd.data<float>(true), gw.data<float>(true));
        });
      }
      Tensor gx;
      if (need_x) {
        gx = mm_raw(gy, wd, false, false, 1.f);        // [N, out] x [out, in]
      }
      if (need_w && !host_wgrad) gw = mm_raw(gy, xd, true, false, 1.f);   // [out, N] x [N, in]
      Tensor gb = has_bias ? sum(gy, 0) : Tensor();
      // dX (the last device read of W) and the bias gradient in a submission of their own: the
      // host optimizer may update this layer as soon as they are done (Tensor::data_ready) while
      // the device goes on with the earlier layers (826-839 vs 729-776 updates/s, bench dqn).
      if (host_wgrad) gy.device().stream().flush_epoch();
      return std::vector<Tensor>{gx, gw, gb};
    });
  }
  return y;
}

}  // namespace vkwb
