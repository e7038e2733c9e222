// Host GEMM for weight gradients: C[M, N] = A^T B with A [K, M], B [K, N] (dW = gy^T x).
// Every element is one chain acc = acc + a * b over k from 0, with the product rounded before the
// add: the arithmetic llvmpipe gives the gemm_texel kernel (alpha 1, no beta), whose GLSL fma()
// it evaluates unfused (measured: Mesa 22.3 on this machine). So the result is bit-identical to
// the device's there (tests/engine/test_host_wgrad.cpp); on other CPU drivers it may differ in
// the last bit. Compiled with -ffp-contract=off; AVX2 when the CPU has it.
#include "engine/ops/gemm.h"

#include <cmath>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VKWB_X86 1
#endif

namespace vkwb::detail {
namespace {

void tn_scalar(int M, int N, int K, const float* A, const float* B, float* C, int m0, int m1, int n0, int n1) {
  for (int m = m0; m < m1; ++m)
    for (int n = n0; n < n1; ++n) {
      float acc = 0.f;
      for (int k = 0; k < K; ++k) acc += A[size_t(k) * M + m] * B[size_t(k) * N + n];
      C[size_t(m) * N + n] = acc;
    }
}

#ifdef VKWB_X86
__attribute__((target("avx2"))) void tn_avx2(int M, int N, int K, const float* A, const float* B, float* C) {
  const int M4 = M / 4 * 4, N16 = N / 16 * 16;
  // Register tile 4 x 16: eight accumulators, two loads of B and four broadcasts of A per k.
  for (int m = 0; m < M4; m += 4)
    for (int n = 0; n < N16; n += 16) {
      __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      const float* a = A + m;
      const float* b = B + n;
      for (int k = 0; k < K; ++k, a += M, b += N) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 x = _mm256_broadcast_ss(a);
        c00 = _mm256_add_ps(c00, _mm256_mul_ps(x, b0));
        c01 = _mm256_add_ps(c01, _mm256_mul_ps(x, b1));
        x = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_add_ps(c10, _mm256_mul_ps(x, b0));
        c11 = _mm256_add_ps(c11, _mm256_mul_ps(x, b1));
        x = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_add_ps(c20, _mm256_mul_ps(x, b0));
        c21 = _mm256_add_ps(c21, _mm256_mul_ps(x, b1));
        x = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_add_ps(c30, _mm256_mul_ps(x, b0));
        c31 = _mm256_add_ps(c31, _mm256_mul_ps(x, b1));
      }
      float* c = C + size_t(m) * N + n;
      _mm256_storeu_ps(c, c00);
      _mm256_storeu_ps(c + 8, c01);
      _mm256_storeu_ps(c + N, c10);
      _mm256_storeu_ps(c + N + 8, c11);
      _mm256_storeu_ps(c + 2 * size_t(N), c20);
      _mm256_storeu_ps(c + 2 * size_t(N) + 8, c21);
      _mm256_storeu_ps(c + 3 * size_t(N), c30);
      _mm256_storeu_ps(c + 3 * size_t(N) + 8, c31);
    }
  // Clean upper register halves before any SSE code runs: GCC emits no vzeroupper here, and the
  // host's SSE code after it (the optimizer, the actor's HostQNet) ran 3-7x slower without this
  // (AVX-SSE transition penalty, measured with perf).
  _mm256_zeroupper();
  // Tails, element by element with the same chain.
  tn_scalar(M, N, K, A, B, C, 0, M4, N16, N);
  tn_scalar(M, N, K, A, B, C, M4, M, 0, N);
}
#endif

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
#ifdef VKWB_X86
  if (host_gemm_fast()) return tn_avx2(M, N, K, A, B, C);
#endif
  tn_scalar(M, N, K, A, B, C, 0, M, 0, N);
}

}  // namespace vkwb::detail
