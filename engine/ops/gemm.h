// Internal GEMM entry point shared by matmul, linear and convolution.
#pragma once
#include "engine/tensor.h"

namespace vkwb::detail {

struct GemmCall {
  bool ta = false, tb = false;
  int M = 0, N = 0, K = 0, batch = 1;
  int lda = 0, ldb = 0, ldc = 0;
  int64_t sa = 0, sb = 0, sc = 0;     // batch strides (elements)
  float alpha = 1.f, beta = 0.f;
  int bias_mode = 0;                  // 0 none, 1 bias[n], 2 bias[m]
  bool relu = false;                  // C = max(..., 0) in the epilogue (after bias and beta)
};
// C = act(alpha * op(A) op(B) + beta * C + bias), recorded (or run on the CPU backend). No autograd.
void gemm_into(const GemmCall& g, const Tensor& A, const Tensor& B, Tensor& C, const Tensor* bias);

// Host C[M, N] = A^T B for row-major A [K, M], B [K, N]: per element the chain acc += a * b over
// k from 0 (product rounded), bit-identical to gemm_texel on llvmpipe (alpha 1, no beta).
// ops/host_gemm.cpp.
void host_gemm_tn(int M, int N, int K, const float* A, const float* B, float* C);
// Host C[M, N] = A B for row-major A [M, K], B [K, N] (dX = gy W), the same chain.
void host_gemm_nn(int M, int N, int K, const float* A, const float* B, float* C);
// Host y [N, out] = act(x W^T + b) for x [N, in], W [out, in], bias [out] or null, as gemm_texel
// computes it (the chain, then + bias, then the ReLU).
void host_linear_forward(int N, int in, int out, const float* x, const float* w, const float* bias, bool relu, float* y);
bool host_gemm_fast();   // the CPU has AVX2 (otherwise host_gemm_tn runs scalar code)
// The vector code the host GEMMs run: 0 scalar, 1 AVX2, 2 AVX-512 (the best the CPU has, unless
// set). isa >= 0 sets it, capped at what the CPU has (tests run every path); returns the one in use.
int host_gemm_isa(int isa = -1);

}  // namespace vkwb::detail
