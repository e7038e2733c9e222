// Host GEMMs for linear() on CPU drivers (LinearExec::host_wgrad, LinearExec::host): the forward
// y = act(x W^T + b), dX = gy W and dW = gy^T x. Every element is one chain acc = acc + p * q over
// k from 0, with the product rounded before the add: the arithmetic llvmpipe gives the gemm_texel
// kernel, whose GLSL fma() it evaluates unfused (measured: Mesa 22.3 on this machine); the bias is
// added after the chain and the ReLU applied last, as in the kernel's epilogue. So the results are
// bit-identical to the device's there (tests/engine/test_host_linear.cpp); on other CPU drivers
// they may differ in the last bit. Compiled with -ffp-contract=off; AVX2 when the CPU has it.
#include "engine/ops/gemm.h"

#include <cstddef>
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
// Register tile 4 rows x 16 columns: eight accumulators, two loads of Q and four broadcasts of P
// per k.
__attribute__((target("avx2"))) void bv_avx2(const Bv& g, int R, int V) {
  const int R4 = R / 4 * 4, V16 = V / 16 * 16;
  const size_t s1 = g.prs, s2 = 2 * g.prs, s3 = 3 * g.prs;
  for (int r = 0; r < R4; r += 4)
    for (int v = 0; v < V16; v += 16) {
      __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      const float* p = g.P + size_t(r) * g.prs;
      const float* q = g.Q + v;
      for (int k = 0; k < g.K; ++k, p += g.pks, q += g.ldq) {
        __m256 b0 = _mm256_loadu_ps(q), b1 = _mm256_loadu_ps(q + 8);
        __m256 x = _mm256_broadcast_ss(p);
        c00 = _mm256_add_ps(c00, _mm256_mul_ps(x, b0));
        c01 = _mm256_add_ps(c01, _mm256_mul_ps(x, b1));
        x = _mm256_broadcast_ss(p + s1);
        c10 = _mm256_add_ps(c10, _mm256_mul_ps(x, b0));
        c11 = _mm256_add_ps(c11, _mm256_mul_ps(x, b1));
        x = _mm256_broadcast_ss(p + s2);
        c20 = _mm256_add_ps(c20, _mm256_mul_ps(x, b0));
        c21 = _mm256_add_ps(c21, _mm256_mul_ps(x, b1));
        x = _mm256_broadcast_ss(p + s3);
        c30 = _mm256_add_ps(c30, _mm256_mul_ps(x, b0));
        c31 = _mm256_add_ps(c31, _mm256_mul_ps(x, b1));
      }
      float* c = g.C + size_t(r) * g.ldc + v;
      _mm256_storeu_ps(c, c00);
      _mm256_storeu_ps(c + 8, c01);
      _mm256_storeu_ps(c + g.ldc, c10);
      _mm256_storeu_ps(c + g.ldc + 8, c11);
      _mm256_storeu_ps(c + 2 * g.ldc, c20);
      _mm256_storeu_ps(c + 2 * g.ldc + 8, c21);
      _mm256_storeu_ps(c + 3 * g.ldc, c30);
      _mm256_storeu_ps(c + 3 * g.ldc + 8, c31);
    }
  // Clean upper register halves before any SSE code runs: GCC emits no vzeroupper here, and the
  // host's SSE code after it (the optimizer, the actor's HostQNet) ran 3-7x slower without this
  // (AVX-SSE transition penalty, measured with perf).
  _mm256_zeroupper();
  // Tails, element by element with the same chain.
  bv_scalar(g, 0, R4, V16, V);
  bv_scalar(g, R4, R, 0, V);
}
#endif

void bv(const Bv& g, int R, int V) {
#ifdef VKWB_X86
  if (host_gemm_fast()) return bv_avx2(g, R, V);
#endif
  bv_scalar(g, 0, R, 0, V);
}

}  // namespace

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

void host_linear_forward(int N, int in, int out, const float* x, const float* w, const float* bias, bool relu, float* y) {
  // y^T [out, N] = W x^T with x^T [in, N], so that the chain over k runs for 16 rows of x at once.
  thread_local std::vector<float> xt, yt;
  xt.resize(size_t(in) * N);
  yt.resize(size_t(out) * N);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < in; ++k) xt[size_t(k) * N + n] = x[size_t(n) * in + k];
  bv({in, w, size_t(in), 1, xt.data(), size_t(N), yt.data(), size_t(N)}, out, N);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < out; ++o) {
      float v = yt[size_t(o) * N + n];
      if (bias) v += bias[o];
      if (relu) v = v > 0.f ? v : 0.f;
      y[size_t(n) * out + o] = v;
    }
}

}  // namespace vkwb::detail
