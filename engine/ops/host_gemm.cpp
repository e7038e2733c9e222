// Host GEMMs for linear() on CPU drivers (LinearExec::host_wgrad, LinearExec::host): the forward
// y = act(x W^T + b), dX = gy W and dW = gy^T x. Every element is one chain acc = acc + p * q over
// k from 0, with the product rounded before the add: the arithmetic llvmpipe gives the gemm_texel
// kernel, whose GLSL fma() it evaluates unfused (measured: Mesa 22.3 on this machine); the bias is
// added after the chain and the ReLU applied last, as in the kernel's epilogue. So the results are
// bit-identical to the device's there (tests/engine/test_host_linear.cpp); on other CPU drivers
// they may differ in the last bit. Compiled with -ffp-contract=off; AVX-512 or AVX2 when the CPU has it.
#include "engine/ops/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VKWB_X86 1
#endif

namespace vkwb::detail {
namespace {

// C[r][v] = sum_k P[r * prs + k * pks] * Q[k * ldq + v], r < R, v < V (row stride ldc).
struct Bv {
  int K;
  const float* P;
  size_t prs, pks;
  const float* Q;
  size_t ldq;
  float* C;
  size_t ldc;
};

void bv_scalar(const Bv& g, int r0, int r1, int v0, int v1) {
  for (int r = r0; r < r1; ++r)
    for (int v = v0; v < v1; ++v) {
      float acc = 0.f;
      for (int k = 0; k < g.K; ++k) acc += g.P[size_t(r) * g.prs + size_t(k) * g.pks] * g.Q[size_t(k) * g.ldq + v];
      g.C[size_t(r) * g.ldc + v] = acc;
    }
}

#ifdef VKWB_X86
// A register tile of RB rows x NV vectors (W floats each) at (r, v): RB * NV accumulators, NV
// loads of Q and RB broadcasts of P per k. `tail` > 0: the last vector holds only its first `tail`
// columns (masked loads and stores; the other lanes compute zeros that are never stored).
#define VKWB_TILE_BODY(VEC, ZERO, LOADQ, BCAST, MUL, ADD, STORE)                                  \
  VEC c[RB][NV];                                                                                  \
  _Pragma("GCC unroll 4") for (int i = 0; i < RB; ++i)                                            \
    _Pragma("GCC unroll 2") for (int j = 0; j < NV; ++j) c[i][j] = ZERO;                          \
  const float* p = g.P + size_t(r) * g.prs;                                                       \
  const float* q = g.Q + v;                                                                       \
  for (int k = 0; k < g.K; ++k, p += g.pks, q += g.ldq) {                                         \
    VEC b[NV];                                                                                    \
    _Pragma("GCC unroll 2") for (int j = 0; j < NV; ++j) b[j] = LOADQ(j);                         \
    _Pragma("GCC unroll 4") for (int i = 0; i < RB; ++i) {                                        \
      VEC x = BCAST(p + size_t(i) * g.prs);                                                       \
      _Pragma("GCC unroll 2") for (int j = 0; j < NV; ++j) c[i][j] = ADD(c[i][j], MUL(x, b[j]));  \
    }                                                                                             \
  }                                                                                               \
  _Pragma("GCC unroll 4") for (int i = 0; i < RB; ++i)                                            \
    _Pragma("GCC unroll 2") for (int j = 0; j < NV; ++j) STORE(i, j);

template <int RB, int NV>
__attribute__((target("avx2"))) inline void tile_avx2(const Bv& g, int r, int v, int tail, __m256i mask) {
  float* out = g.C + size_t(r) * g.ldc + v;
  auto last = [&](int j) { return tail > 0 && j == NV - 1; };
#define LQ(j) (last(j) ? _mm256_maskload_ps(q + 8 * (j), mask) : _mm256_loadu_ps(q + 8 * (j)))
#define ST(i, j)                                                                   \
  if (last(j)) _mm256_maskstore_ps(out + size_t(i) * g.ldc + 8 * (j), mask, c[i][j]); \
  else _mm256_storeu_ps(out + size_t(i) * g.ldc + 8 * (j), c[i][j])
  VKWB_TILE_BODY(__m256, _mm256_setzero_ps(), LQ, _mm256_broadcast_ss, _mm256_mul_ps, _mm256_add_ps, ST)
#undef LQ
#undef ST
}

template <int RB>
__attribute__((target("avx2"))) inline void row_block_avx2(const Bv& g, int r, int V16, int V8, int rest, __m256i mask,
                                                           __m256i all) {
  for (int v = 0; v < V16; v += 16) tile_avx2<RB, 2>(g, r, v, 0, all);
  if (V8 > V16) tile_avx2<RB, 1>(g, r, V16, 0, all);
  if (rest) tile_avx2<RB, 1>(g, r, V8, rest, mask);
}

// 4-row blocks, then single rows; per row block 16-column tiles, then one of 8, then a masked
// one for the last < 8 columns.
__attribute__((target("avx2"))) void bv_avx2(const Bv& g, int R, int V) {
  const int V16 = V / 16 * 16, V8 = V / 8 * 8, rest = V - V8;
  alignas(32) int32_t m[8];
  for (int i = 0; i < 8; ++i) m[i] = i < rest ? -1 : 0;
  const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(m)), all = _mm256_set1_epi32(-1);
  int r = 0;
  for (; r + 4 <= R; r += 4) row_block_avx2<4>(g, r, V16, V8, rest, mask, all);
  for (; r < R; ++r) row_block_avx2<1>(g, r, V16, V8, rest, mask, all);
  // Clean upper register halves before any SSE code runs: GCC emits no vzeroupper here, and the
  // host's SSE code after it (the optimizer, the actor's HostQNet) ran 3-7x slower without this
  // (AVX-SSE transition penalty, measured with perf).
  _mm256_zeroupper();
}

template <int RB, int NV>
__attribute__((target("avx512f"))) inline void tile_avx512(const Bv& g, int r, int v, int tail) {
  float* out = g.C + size_t(r) * g.ldc + v;
  const __mmask16 mask = __mmask16(tail > 0 ? (1u << tail) - 1 : 0xffffu);
  auto last = [&](int j) { return tail > 0 && j == NV - 1; };
#define LQ(j) (last(j) ? _mm512_maskz_loadu_ps(mask, q + 16 * (j)) : _mm512_loadu_ps(q + 16 * (j)))
#define BC(ptr) _mm512_set1_ps(*(ptr))
#define ST(i, j)                                                                     \
  if (last(j)) _mm512_mask_storeu_ps(out + size_t(i) * g.ldc + 16 * (j), mask, c[i][j]); \
  else _mm512_storeu_ps(out + size_t(i) * g.ldc + 16 * (j), c[i][j])
  VKWB_TILE_BODY(__m512, _mm512_setzero_ps(), LQ, BC, _mm512_mul_ps, _mm512_add_ps, ST)
#undef LQ
#undef BC
#undef ST
}

template <int RB>
__attribute__((target("avx512f"))) inline void row_block_avx512(const Bv& g, int r, int V32, int V16, int rest) {
  for (int v = 0; v < V32; v += 32) tile_avx512<RB, 2>(g, r, v, 0);
  if (V16 > V32) tile_avx512<RB, 1>(g, r, V32, 0);
  if (rest) tile_avx512<RB, 1>(g, r, V16, rest);
}

// The same with 16-float vectors: 4-row blocks, then single rows; 32-column tiles, then one of
// 16, then a masked one for the last < 16 columns.
__attribute__((target("avx512f"))) void bv_avx512(const Bv& g, int R, int V) {
  const int V32 = V / 32 * 32, V16 = V / 16 * 16, rest = V - V16;
  int r = 0;
  for (; r + 4 <= R; r += 4) row_block_avx512<4>(g, r, V32, V16, rest);
  for (; r < R; ++r) row_block_avx512<1>(g, r, V32, V16, rest);
  _mm256_zeroupper();   // (see bv_avx2)
}
#undef VKWB_TILE_BODY
#endif

int best_isa() {
#ifdef VKWB_X86
  return __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
#else
  return 0;
#endif
}

std::atomic<int> g_isa{best_isa()};   // 0 scalar, 1 AVX2, 2 AVX-512

void bv(const Bv& g, int R, int V) {
#ifdef VKWB_X86
  const int isa = g_isa.load(std::memory_order_relaxed);
  if (isa == 2) return bv_avx512(g, R, V);
  if (isa == 1) return bv_avx2(g, R, V);
#endif
  bv_scalar(g, 0, R, 0, V);
}

}  // namespace

int host_gemm_isa(int isa) {
  if (isa >= 0) g_isa.store(std::min(isa, best_isa()));
  return g_isa.load();
}

bool host_gemm_fast() {
#ifdef VKWB_X86
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
#else
  return false;
#endif
}

void host_gemm_tn(int M, int N, int K, const float* A, const float* B, float* C) {
  bv({K, A, 1, size_t(M), B, size_t(N), C, size_t(N)}, M, N);
}

void host_gemm_nn(int M, int N, int K, const float* A, const float* B, float* C) {
  bv({K, A, size_t(K), 1, B, size_t(N), C, size_t(N)}, M, N);
}

// dst [cols, rows] = src [rows, cols]^T (row strides cols and rows), in 16 x 16 blocks: row by
// row, every store of the plain loop touched another cache line (LeNet-5's fc1 input, 32 x 400:
// ~40 us of its ~100 us host forward on one core, docs/PERFORMANCE.md 2026-12-08).
static void transpose_blocked(const float* src, int rows, int cols, float* dst) {
  constexpr int B = 16;
  for (int r0 = 0; r0 < rows; r0 += B)
    for (int c0 = 0; c0 < cols; c0 += B) {
      const int r1 = std::min(rows, r0 + B), c1 = std::min(cols, c0 + B);
      for (int c = c0; c < c1; ++c)
        for (int r = r0; r < r1; ++r) dst[size_t(c) * rows + r] = src[size_t(r) * cols + c];
    }
}

void host_linear_forward(int N, int in, int out, const float* x, const float* w, const float* bias, bool relu, float* y) {
  // y^T [out, N] = W x^T with x^T [in, N], so that the chain over k runs for 16 rows of x at once.
  thread_local std::vector<float> xt, yt;
  xt.resize(size_t(in) * N);
  yt.resize(size_t(out) * N);
  transpose_blocked(x, N, in, xt.data());
  bv({in, w, size_t(in), 1, xt.data(), size_t(N), yt.data(), size_t(N)}, out, N);
  transpose_blocked(yt.data(), out, N, y);
  if (!bias && !relu) return;
  for (int n = 0; n < N; ++n) {
    float* yr = y + size_t(n) * out;
    for (int o = 0; o < out; ++o) {
      float v = yr[o];
      if (bias) v += bias[o];
      if (relu) v = v > 0.f ? v : 0.f;
      yr[o] = v;
    }
  }
}

}  // namespace vkwb::detail
