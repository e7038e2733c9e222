// Push-constant structs, mirrored field by field in the shaders' `layout(push_constant)` blocks
// (std430: 4-byte scalars, int arrays with stride 4). The CPU reference takes the same structs.
#pragma once
#include <cstdint>

namespace vkwb {

struct UnaryP { uint32_t n; float a, b; int32_t x_texel; };
struct BinaryP { uint32_t n; int32_t ndim; int32_t shape[5], sa[5], sb[5]; };
struct ReduceP { uint32_t outer, R, inner; float ddof; int32_t x_texel; };
struct SoftmaxP { uint32_t outer, R, inner; };
struct CopyP { uint32_t n; int32_t ndim; int32_t shape[5], ss[5], ds[5]; int32_t src_off, dst_off, src_texel; };
struct FillP { uint32_t n, bits; };
struct ConvertP { uint32_t n; };
struct PhiloxP { uint32_t n, seed_lo, seed_hi; float a, b; };
struct GemmP { int32_t M, N, K, lda, ldb, ldc, sa, sb, sc; float alpha, beta; int32_t batch; };
struct GemmTexelP { GemmP g; int32_t offA, limA, offB, limB; };   // texel indices (gemm_texel.comp)
struct Im2colP { int32_t C, H, W, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, n0, nb, in_texel; };  // in_texel: first texel of the input (texel variants)
struct ConvP {   // conv_implicit.comp
  int32_t N, C, H, W, OC, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, G;
  int32_t offA, offB, slices, per_slice;
};
struct DirectConvP {   // conv_direct.comp
  int32_t N, CI, H, W, MO, MP, OH, OW, ph, pw, G, offX, offW, tiles_r, tiles_c, tiles_m, offIdx, seg, segs, tr0;
};
struct DirectConvWP {   // conv_direct_dw.comp
  int32_t N, CI, H, W, MO, OH, OW, ph, pw, G, offX, offDY, tiles_m, slices, per_slice, offIdx;
};
struct PoolP { int32_t planes, H, W, OH, OW, KH, KW, sh, sw, ph, pw, count_pad, in_texel, idx_texel; };
struct IndexP { uint32_t outer, R, J, inner; };
struct BatchNormP {   // batchnorm.comp; flags: 1 update running stats, 2 weight, 4 bias, 8 training (backward)
  uint32_t N, C, HW; float eps, momentum; int32_t flags, x_texel, dy_texel, k_texel;
};
struct OptimP { uint32_t n; float lr, wd, a, b, eps, c1, c2; int32_t flags; float mom; int32_t first; };

static_assert(sizeof(BinaryP) == 68 && sizeof(CopyP) == 80 && sizeof(OptimP) == 44, "push constant layout");
static_assert(sizeof(GemmP) <= 128 && sizeof(Im2colP) <= 128 && sizeof(PoolP) <= 128, "push constants fit 128 bytes");

enum class UnaryOp : int32_t {
  relu, leaky_relu, elu, sigmoid, tanh, softplus, exp, log, sqrt, abs, neg, clamp, affine, square, pow, sign,
  silu, gelu, gelu_tanh
};
enum class BinaryOp : int32_t { add, sub, mul, div, max, min, pow, ge, gt, eq, lt, le };
enum class ReduceOp : int32_t { sum, mean, max, min, var, sumsq, argmax, argmin };
enum class RandomDist : int32_t { uniform, normal, bernoulli };
enum class OptimOp : int32_t { sgd, momentum, adagrad, adadelta, rmsprop, adam };

}  // namespace vkwb
