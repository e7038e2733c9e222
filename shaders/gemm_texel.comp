#version 450
#extension GL_EXT_control_flow_attributes : require
// Batched GEMM for CPU Vulkan drivers, reading A and B through uniform texel buffers:
//   C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] + bias
// Layouts as in gemm.comp: op(A) is M x K, A[m*lda + k] or A[k*lda + m] (TA == 1); op(B) is K x N,
// B[k*ldb + n] or B[n*ldb + k] (TB == 1); C is M x N with row stride ldc; batch b adds b*sa, b*sb,
// b*sc. BIAS: 0 none, 1 bias[n], 2 bias[m]. ACT 1: C = max(that, 0) (a fused ReLU epilogue).
//
// Why texel buffers: llvmpipe (Mesa 22) compiles every storage-buffer load into a loop over the
// SIMD lanes with a branch and a bounds check per lane and component, while a texel fetch is one
// vector gather. VA/VB == 4 fetch four floats per texel (RGBA32F view) along the operand's
// contiguous dimension; that needs lda/ldb, sa/sb and the tensor offset to be multiples of 4.
// VA/VB == 1 fetch single floats (R32F view). Texel indices are absolute in the block's view:
// offA/offB are the tensors' first texels, limA/limB their last; every fetch is clamped to
// [off, lim] so edge tiles never leave the tensor, and values outside M/N are never stored.
// Each invocation computes a TM x TN block of C over K in chunks of 4, walking blocks with a
// grid-stride loop (few long-running workgroups suit CPU drivers).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM = 8;
layout(constant_id = 2) const int TA = 0;
layout(constant_id = 3) const int TB = 0;
layout(constant_id = 4) const int BIAS = 0;
layout(constant_id = 5) const int BETA = 0;
layout(constant_id = 6) const int VA = 1;
layout(constant_id = 7) const int VB = 1;
layout(constant_id = 8) const int TN = 8;
// VC == 1: C is stored (and read, BETA) four columns at a time through a vec4 view; the host sets
// it when ldc, sc and C's binding offset are multiples of 4 floats (TN always is). llvmpipe pays
// per storage access and lane, not per byte (see unary.comp). VC == 2: the same, and N is a
// multiple of 4, so there is no partial quad: llvmpipe runs both sides of every branch (masking
// lanes off), so the partial quad's scalar stores would cost a lane loop each even when no lane
// takes them.
layout(constant_id = 9) const int VC = 0;
layout(constant_id = 10) const int ACT = 0;
layout(constant_id = 11) const int KC = 4;   // K steps fetched per chunk, a multiple of 4
layout(binding = 0) uniform samplerBuffer A;
layout(binding = 1) uniform samplerBuffer B;
layout(std430, binding = 2) buffer BC { float C[]; };
layout(std430, binding = 2) buffer BC4 { vec4 C4[]; };
layout(std430, binding = 3) readonly buffer BBias { float bias[]; };
layout(push_constant) uniform P {
  int M; int N; int K; int lda; int ldb; int ldc; int sa; int sb; int sc; float alpha; float beta; int batch;
  int offA; int limA; int offB; int limB;
} p;

// Element e of A (relative to the tensor start), whatever the view's texel width.
float elemA(int e) {
  if (VA == 4) {
    int t = clamp(p.offA + (e >> 2), p.offA, p.limA);
    return texelFetch(A, t)[e & 3];
  }
  return texelFetch(A, clamp(p.offA + e, p.offA, p.limA)).x;
}
float elemB(int e) {
  if (VB == 4) {
    int t = clamp(p.offB + (e >> 2), p.offB, p.limB);
    return texelFetch(B, t)[e & 3];
  }
  return texelFetch(B, clamp(p.offB + e, p.offB, p.limB)).x;
}
vec4 quadA(int e) { return texelFetch(A, clamp(p.offA + (e >> 2), p.offA, p.limA)); }   // e % 4 == 0
vec4 quadB(int e) { return texelFetch(B, clamp(p.offB + (e >> 2), p.offB, p.limB)); }

void main() {
  int tiles_n = (p.N + TN - 1) / TN, tiles_m = (p.M + TM - 1) / TM;
  int total = tiles_n * tiles_m * p.batch;
  int stride = int(gl_NumWorkGroups.x * gl_WorkGroupSize.x);
  int K4 = p.K / KC * KC;   // whole chunks; the rest one K step at a time
  for (int t = int(gl_GlobalInvocationID.x); t < total; t += stride) {
    int tn = t % tiles_n;
    int rest = t / tiles_n;
    int tm = rest % tiles_m, b = rest / tiles_m;
    int m0 = tm * TM, n0 = tn * TN;
    int aoff = b * p.sa, boff = b * p.sb, coff = b * p.sc;
    float acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; ++i)
      [[unroll]] for (int j = 0; j < TN; ++j) acc[i][j] = 0.0;
    for (int k = 0; k < K4; k += KC) {
      float a[KC][TM];
      float bv[KC][TN];
      [[unroll]] for (int h = 0; h < KC; h += 4) {
        if (TA == 0 && VA == 4) {
          [[unroll]] for (int i = 0; i < TM; ++i) {
            vec4 q = quadA(aoff + min(m0 + i, p.M - 1) * p.lda + k + h);
            [[unroll]] for (int kk = 0; kk < 4; ++kk) a[h + kk][i] = q[kk];
          }
        } else if (TA == 1 && VA == 4) {
          [[unroll]] for (int kk = 0; kk < 4; ++kk)
            [[unroll]] for (int i = 0; i < TM; i += 4) {
              vec4 q = quadA(aoff + (k + h + kk) * p.lda + m0 + i);
              [[unroll]] for (int e = 0; e < 4; ++e) a[h + kk][i + e] = q[e];
            }
        } else {
          [[unroll]] for (int kk = 0; kk < 4; ++kk)
            [[unroll]] for (int i = 0; i < TM; ++i) {
              int m = min(m0 + i, p.M - 1);
              a[h + kk][i] = elemA(aoff + (TA == 1 ? (k + h + kk) * p.lda + m : m * p.lda + k + h + kk));
            }
        }
        if (TB == 0 && VB == 4) {
          [[unroll]] for (int kk = 0; kk < 4; ++kk)
            [[unroll]] for (int j = 0; j < TN; j += 4) {
              vec4 q = quadB(boff + (k + h + kk) * p.ldb + n0 + j);
              [[unroll]] for (int e = 0; e < 4; ++e) bv[h + kk][j + e] = q[e];
            }
        } else if (TB == 1 && VB == 4) {
          [[unroll]] for (int j = 0; j < TN; ++j) {
            vec4 q = quadB(boff + min(n0 + j, p.N - 1) * p.ldb + k + h);
            [[unroll]] for (int kk = 0; kk < 4; ++kk) bv[h + kk][j] = q[kk];
          }
        } else {
          [[unroll]] for (int kk = 0; kk < 4; ++kk)
            [[unroll]] for (int j = 0; j < TN; ++j) {
              int n = min(n0 + j, p.N - 1);
              bv[h + kk][j] = elemB(boff + (TB == 1 ? n * p.ldb + k + h + kk : (k + h + kk) * p.ldb + n));
            }
        }
      }
      // Accumulator by accumulator, each taking the chunk's KC K steps in a row (the same order
      // of additions as K step by K step): the accumulators live on the stack (TM*TN of them), so
      // each is loaded and stored once per chunk instead of once per step.
      [[unroll]] for (int i = 0; i < TM; ++i)
        [[unroll]] for (int j = 0; j < TN; ++j) {
          float v = acc[i][j];
          [[unroll]] for (int kk = 0; kk < KC; ++kk) v = fma(a[kk][i], bv[kk][j], v);
          acc[i][j] = v;
        }
    }
    for (int k = K4; k < p.K; ++k) {   // the last K % KC steps, one element at a time
      float a[TM];
      [[unroll]] for (int i = 0; i < TM; ++i) {
        int m = min(m0 + i, p.M - 1);
        a[i] = elemA(aoff + (TA == 1 ? k * p.lda + m : m * p.lda + k));
      }
      [[unroll]] for (int j = 0; j < TN; ++j) {
        int n = min(n0 + j, p.N - 1);
        float bj = elemB(boff + (TB == 1 ? n * p.ldb + k : k * p.ldb + n));
        [[unroll]] for (int i = 0; i < TM; ++i) acc[i][j] = fma(a[i], bj, acc[i][j]);
      }
    }
    [[unroll]] for (int i = 0; i < TM; ++i) {
      int m = m0 + i;
      if (m >= p.M) break;
      if (VC >= 1) {
        [[unroll]] for (int j = 0; j < TN; j += 4) {
          int n = n0 + j;
          if (n >= p.N) break;
          int c = coff + m * p.ldc + n;
          if (VC == 2 || n + 3 < p.N) {
            vec4 v = p.alpha * vec4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]);
            if (BIAS == 1) v += vec4(bias[n], bias[n + 1], bias[n + 2], bias[n + 3]);
            if (BIAS == 2) v += bias[m];
            if (BETA == 1) v += p.beta * C4[c >> 2];
            if (ACT == 1) v = max(v, vec4(0.0));
            C4[c >> 2] = v;
          } else {
            [[unroll]] for (int e = 0; e < 3; ++e) {
              if (n + e >= p.N) break;
              float v = p.alpha * acc[i][j + e];
              if (BIAS == 1) v += bias[n + e];
              if (BIAS == 2) v += bias[m];
              if (BETA == 1) v += p.beta * C[c + e];
              if (ACT == 1) v = max(v, 0.0);
              C[c + e] = v;
            }
          }
        }
        continue;
      }
      [[unroll]] for (int j = 0; j < TN; ++j) {
        int n = n0 + j;
        if (n >= p.N) break;
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
}
