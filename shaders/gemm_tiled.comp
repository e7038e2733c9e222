#version 450
// Batched GEMM with shared-memory tiles (the fast shape for GPUs); same contract as gemm.comp.
// A workgroup of 16 x 16 invocations computes a 64 x 64 block of C, each invocation 4 x 4,
// staging 64 x 16 slices of op(A) and op(B) in shared memory per K step.
layout(local_size_x = 16, local_size_y = 16) in;
layout(constant_id = 2) const int TA = 0;
layout(constant_id = 3) const int TB = 0;
layout(constant_id = 4) const int BIAS = 0;
layout(constant_id = 5) const int BETA = 0;
layout(constant_id = 6) const int ACT = 0;   // 1: C = max(C, 0), a fused ReLU epilogue
#define BM 64
#define BN 64
#define BK 16
layout(std430, binding = 0) readonly buffer BA { float A[]; };
layout(std430, binding = 1) readonly buffer BB { float B[]; };
layout(std430, binding = 2) buffer BC { float C[]; };
layout(std430, binding = 3) readonly buffer BBias { float bias[]; };
layout(push_constant) uniform P {
  int M; int N; int K; int lda; int ldb; int ldc; int sa; int sb; int sc; float alpha; float beta; int batch;
} p;

shared float sA[BK][BM];
shared float sB[BK][BN];

float loadA(int aoff, int m, int k) {
  if (m >= p.M || k >= p.K) return 0.0;
  return TA == 1 ? A[aoff + k * p.lda + m] : A[aoff + m * p.lda + k];
}
float loadB(int boff, int k, int n) {
  if (n >= p.N || k >= p.K) return 0.0;
  return TB == 1 ? B[boff + n * p.ldb + k] : B[boff + k * p.ldb + n];
}

void main() {
  int tx = int(gl_LocalInvocationID.x), ty = int(gl_LocalInvocationID.y);
  int tid = ty * 16 + tx;
  int bm = int(gl_WorkGroupID.y) * BM, bn = int(gl_WorkGroupID.x) * BN;
  int b = int(gl_WorkGroupID.z);
  int aoff = b * p.sa, boff = b * p.sb, coff = b * p.sc;
  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0;
  for (int k0 = 0; k0 < p.K; k0 += BK) {
    // 256 invocations load 64 x 16 = 1024 values of each operand: 4 each.
    for (int l = 0; l < 4; ++l) {
      int e = tid + l * 256;
      int kk = e / BM, mm = e % BM;
      sA[kk][mm] = loadA(aoff, bm + mm, k0 + kk);
      sB[kk][mm] = loadB(boff, k0 + kk, bn + mm);
    }
    barrier();
    for (int kk = 0; kk < BK; ++kk) {
      float av[4], bv[4];
      for (int i = 0; i < 4; ++i) av[i] = sA[kk][ty + 16 * i];
      for (int j = 0; j < 4; ++j) bv[j] = sB[kk][tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
    }
    barrier();
  }
  for (int i = 0; i < 4; ++i) {
    int m = bm + ty + 16 * i;
    if (m >= p.M) continue;
    for (int j = 0; j < 4; ++j) {
      int n = bn + tx + 16 * j;
      if (n >= p.N) continue;
      float v = p.alpha * acc[i][j];
      if (BIAS == 1) v += bias[n];
      if (BIAS == 2) v += bias[m];
      int c = coff + m * p.ldc + n;
      if (BETA == 1) v += p.beta * C[c];
      if (ACT == 1) v = max(v, 0.0);
      C[c] = v;
    }
  }
}
