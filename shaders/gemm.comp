#version 450
// Batched GEMM, register-blocked, no shared memory (the fast shape for CPU Vulkan drivers):
//   C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] + bias
// op(A) is M x K: A[m*lda + k], or A[k*lda + m] when TA == 1. op(B) is K x N: B[k*ldb + n], or
// B[n*ldb + k] when TB == 1. C is M x N with row stride ldc. Batch b = gl_WorkGroupID.z adds
// b*sa, b*sb, b*sc. BIAS: 0 none, 1 bias[n] (Linear), 2 bias[m] (convolution rows).
// Each invocation computes a TM x TN block; edges are clamped on load and masked on store, so
// any M, N, K works.
layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const int TA = 0;
layout(constant_id = 3) const int TB = 0;
layout(constant_id = 4) const int BIAS = 0;
layout(constant_id = 5) const int BETA = 0;  // 1: read C (beta != 0)
#define TM 4
#define TN 4
layout(std430, binding = 0) readonly buffer BA { float A[]; };
layout(std430, binding = 1) readonly buffer BB { float B[]; };
layout(std430, binding = 2) buffer BC { float C[]; };
layout(std430, binding = 3) readonly buffer BBias { float bias[]; };
layout(push_constant) uniform P {
  int M; int N; int K; int lda; int ldb; int ldc; int sa; int sb; int sc; float alpha; float beta;
} p;

void main() {
  int m0 = int(gl_GlobalInvocationID.y) * TM;
  int n0 = int(gl_GlobalInvocationID.x) * TN;
  if (m0 >= p.M || n0 >= p.N) return;
  int b = int(gl_WorkGroupID.z);
  int aoff = b * p.sa, boff = b * p.sb, coff = b * p.sc;
  int mi[TM], ni[TN];
  for (int i = 0; i < TM; ++i) mi[i] = min(m0 + i, p.M - 1);
  for (int j = 0; j < TN; ++j) ni[j] = min(n0 + j, p.N - 1);
  float acc[TM][TN];
  for (int i = 0; i < TM; ++i)
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0;
  for (int k = 0; k < p.K; ++k) {
    float av[TM], bv[TN];
    for (int i = 0; i < TM; ++i) av[i] = TA == 1 ? A[aoff + k * p.lda + mi[i]] : A[aoff + mi[i] * p.lda + k];
    for (int j = 0; j < TN; ++j) bv[j] = TB == 1 ? B[boff + ni[j] * p.ldb + k] : B[boff + k * p.ldb + ni[j]];
    for (int i = 0; i < TM; ++i)
      for (int j = 0; j < TN; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
  }
  for (int i = 0; i < TM; ++i) {
    int m = m0 + i;
    if (m >= p.M) break;
    for (int j = 0; j < TN; ++j) {
      int n = n0 + j;
      if (n >= p.N) break;
      float v = p.alpha * acc[i][j];
      if (BIAS == 1) v += bias[n];
      if (BIAS == 2) v += bias[m];
      int c = coff + m * p.ldc + n;
      if (BETA == 1) v += p.beta * C[c];
      C[c] = v;
    }
  }
}
