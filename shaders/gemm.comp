#version 450
#extension GL_EXT_control_flow_attributes : require
// Batched GEMM, register-blocked, no shared memory (the fast shape for CPU Vulkan drivers):
//   C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] + bias
// op(A) is M x K: A[m*lda + k], or A[k*lda + m] when TA == 1. op(B) is K x N: B[k*ldb + n], or
// B[n*ldb + k] when TB == 1. C is M x N with row stride ldc. Batch b adds b*sa, b*sb, b*sc.
// BIAS: 0 none, 1 bias[n] (Linear), 2 bias[m] (convolution rows).
// Each invocation computes TM x TN blocks of C, walking the blocks with a grid-stride loop (few,
// long-running workgroups suit CPU drivers). B rows are read as vec4 when VEC == 1 (TB == 0,
// ldb, sb multiples of 4) for full tiles: CPU drivers turn every load into a per-lane gather, so
// fewer, wider loads per FMA is what makes this kernel fast. Edges are clamped on load and
// masked on store, so any M, N, K works.
layout(local_size_x_id = 0) in;
layout(constant_id = 2) const int TA = 0;
layout(constant_id = 3) const int TB = 0;
layout(constant_id = 4) const int BIAS = 0;
layout(constant_id = 5) const int BETA = 0;  // 1: read C (beta != 0)
layout(constant_id = 6) const int VEC = 0;
layout(constant_id = 7) const int ACT = 0;   // 1: C = max(C, 0), a fused ReLU epilogue
#define TM 4
#define TN 16
layout(std430, binding = 0) readonly buffer BA { float A[]; };
layout(std430, binding = 1) readonly buffer BB { float B[]; };
layout(std430, binding = 1) readonly buffer BB4 { vec4 B4[]; };
layout(std430, binding = 2) buffer BC { float C[]; };
layout(std430, binding = 3) readonly buffer BBias { float bias[]; };
layout(push_constant) uniform P {
  int M; int N; int K; int lda; int ldb; int ldc; int sa; int sb; int sc; float alpha; float beta; int batch;
} p;

void main() {
  int tiles_n = (p.N + TN - 1) / TN, tiles_m = (p.M + TM - 1) / TM;
  int total = tiles_n * tiles_m * p.batch;
  int stride = int(gl_NumWorkGroups.x * gl_WorkGroupSize.x);
  for (int t = int(gl_GlobalInvocationID.x); t < total; t += stride) {
    int tn = t % tiles_n;
    int rest = t / tiles_n;
    int tm = rest % tiles_m, b = rest / tiles_m;
    int m0 = tm * TM, n0 = tn * TN;
    int aoff = b * p.sa, boff = b * p.sb, coff = b * p.sc;
    int mi[TM];
    [[unroll]] for (int i = 0; i < TM; ++i) mi[i] = min(m0 + i, p.M - 1);
    vec4 acc[TM][TN / 4];
    [[unroll]] for (int i = 0; i < TM; ++i)
      [[unroll]] for (int j = 0; j < TN / 4; ++j) acc[i][j] = vec4(0.0);
    if (VEC == 1 && n0 + TN <= p.N) {
      int brow = (boff + n0) / 4, bstep = p.ldb / 4;
      for (int k = 0; k < p.K; ++k) {
        vec4 bv[TN / 4];
        [[unroll]] for (int j = 0; j < TN / 4; ++j) bv[j] = B4[brow + j];
        brow += bstep;
        [[unroll]] for (int i = 0; i < TM; ++i) {
          float a = TA == 1 ? A[aoff + k * p.lda + mi[i]] : A[aoff + mi[i] * p.lda + k];
          [[unroll]] for (int j = 0; j < TN / 4; ++j) acc[i][j] = fma(vec4(a), bv[j], acc[i][j]);
        }
      }
    } else {
      int ni[TN];
      [[unroll]] for (int j = 0; j < TN; ++j) ni[j] = min(n0 + j, p.N - 1);
      for (int k = 0; k < p.K; ++k) {
        vec4 bv[TN / 4];
        [[unroll]] for (int j = 0; j < TN / 4; ++j) {
          [[unroll]] for (int e = 0; e < 4; ++e) {
            int n = ni[4 * j + e];
            bv[j][e] = TB == 1 ? B[boff + n * p.ldb + k] : B[boff + k * p.ldb + n];
          }
        }
        [[unroll]] for (int i = 0; i < TM; ++i) {
          float a = TA == 1 ? A[aoff + k * p.lda + mi[i]] : A[aoff + mi[i] * p.lda + k];
          [[unroll]] for (int j = 0; j < TN / 4; ++j) acc[i][j] = fma(vec4(a), bv[j], acc[i][j]);
        }
      }
    }
    [[unroll]] for (int i = 0; i < TM; ++i) {
      int m = m0 + i;
      if (m >= p.M) break;
      [[unroll]] for (int j = 0; j < TN; ++j) {
        int n = n0 + j;
        if (n >= p.N) break;
        float v = p.alpha * acc[i][j / 4][j % 4];
        if (BIAS == 1) v += bias[n];
        if (BIAS == 2) v += bias[m];
        int c = coff + m * p.ldc + n;
        if (BETA == 1) v += p.beta * C[c];
        if (ACT == 1) v = max(v, 0.0);
        C[c] = v;
      }
    }
  }
}
