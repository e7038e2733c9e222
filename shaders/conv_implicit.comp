#version 450
#extension GL_EXT_control_flow_attributes : require
// Convolution as an implicit GEMM: the column matrix of im2col is never stored; its entries are
// fetched from the image (zero outside it) inside the GEMM's reduction loop. Writing a buffer costs
// CPU drivers ~20 cycles per element, so this saves the C*KH*KW-times-larger column buffer and the
// copies around it. Each invocation computes a TM x TN tile of the output, walking tiles with a
// grid-stride loop; A and B are uniform texel buffers (offA/offB: the tensors' first texels).
// Layouts: x [N, C, H, W], w [OC, C/G, KH, KW], y/dy [N, OC, OH, OW]; G groups, Cg = C/G, OCg = OC/G.
//   MODE 0, forward:   y[n, g*OCg+m, p]  = sum_{c,kh,kw} w[g*OCg+m, c, kh, kw] x[n, g*Cg+c, ih, iw] (+ bias)
//                      rows m < OCg, columns = output pixels (n, oh, ow); A = w, B = x.
//   MODE 1, weight grad, partial sums over image slices s (the host sums them):
//                      part[s, g*OCg+m, k] = sum_{n in slice s, oh, ow} dy[n, g*OCg+m, oh, ow] x[n, g*Cg+c, ih, iw]
//                      rows m < OCg, columns k = (c, kh, kw) < Cg*KH*KW; A = dy, B = x.
//   MODE 2, data grad (unit strides only): dx[n, g*Cg+m, h, w] = sum_{oc,kh,kw} w[g*OCg+oc, m, kh, kw] dy[n, g*OCg+oc, oh, ow]
//                      with oh = h + ph - kh*dh, ow = w + pw - kw*dw; rows m < Cg, columns = input pixels; A = w, B = dy.
// where ih = oh*sh - ph + kh*dh, iw = ow*sw - pw + kw*dw.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MODE = 0;
layout(constant_id = 2) const int TM = 8;
layout(constant_id = 3) const int TN = 8;
layout(constant_id = 4) const int BIAS = 0;
// VO == 1: outputs stored four columns at a time through a vec4 view; the host sets it when the
// output plane (OH*OW, Cg*KH*KW or H*W by mode), TN and the binding offset are multiples of 4, so
// four consecutive columns are consecutive, aligned floats of one plane (see unary.comp for why).
layout(constant_id = 5) const int VO = 0;
layout(constant_id = 6) const int ACT = 0;   // MODE 0: 1 = y = max(conv + bias, 0), a fused ReLU
layout(binding = 0) uniform samplerBuffer A;
layout(binding = 1) uniform samplerBuffer B;
layout(std430, binding = 2) writeonly buffer Out { float o[]; };
layout(std430, binding = 2) writeonly buffer Out4 { vec4 o4[]; };
layout(std430, binding = 3) readonly buffer Bias { float bias[]; };
layout(push_constant) uniform P {
  int N; int C; int H; int W; int OC; int OH; int OW; int KH; int KW;
  int sh; int sw; int ph; int pw; int dh; int dw; int G;
  int offA; int offB; int slices; int per_slice;
} p;

float fetchA(int e) { return texelFetch(A, p.offA + e).x; }
// Outside the image: fetch a valid texel (index 0), then drop it.
float fetchB(int e, bool ok) {
  float v = texelFetch(B, p.offB + (ok ? e : 0)).x;
  return ok ? v : 0.0;
}

void main() {
  int Cg = p.C / p.G, OCg = p.OC / p.G, KK = p.KH * p.KW;
  int HW = p.H * p.W, OHW = p.OH * p.OW;
  int rows = MODE == 2 ? Cg : OCg;
  int cols = MODE == 0 ? p.N * OHW : MODE == 1 ? Cg * KK : p.N * HW;
  int tiles_m = (rows + TM - 1) / TM, tiles_n = (cols + TN - 1) / TN;
  int total = tiles_m * tiles_n * p.G * (MODE == 1 ? p.slices : 1);
  int stride = int(gl_NumWorkGroups.x * gl_WorkGroupSize.x);
  for (int t = int(gl_GlobalInvocationID.x); t < total; t += stride) {
    int tn = t % tiles_n;
    int rest = t / tiles_n;
    int tm = rest % tiles_m;
    rest /= tiles_m;
    int g = rest % p.G, s = rest / p.G;
    int m0 = tm * TM, n0 = tn * TN;
    float acc[TM][TN];
    [[unroll]] for (int i = 0; i < TM; ++i)
      [[unroll]] for (int j = 0; j < TN; ++j) acc[i][j] = 0.0;
    // Per-column constants (integer division once per tile, not per element).
    int cb[TN], ci[TN], cj[TN];
    [[unroll]] for (int j = 0; j < TN; ++j) {
      int n = min(n0 + j, cols - 1);
      if (MODE == 0) {        // output pixel: image base of x, top-left input corner
        int img = n / OHW, q = n % OHW;
        cb[j] = (img * p.C + g * Cg) * HW;
        ci[j] = (q / p.OW) * p.sh - p.ph;
        cj[j] = (q % p.OW) * p.sw - p.pw;
      } else if (MODE == 1) { // k = (c, kh, kw): channel plane of x, kernel offsets
        int c = n / KK, r = n % KK;
        cb[j] = (g * Cg + c) * HW;
        ci[j] = (r / p.KW) * p.dh - p.ph;
        cj[j] = (r % p.KW) * p.dw - p.pw;
      } else {                // input pixel: image base of dy, (h + ph, w + pw)
        int img = n / HW, q = n % HW;
        cb[j] = (img * p.OC + g * OCg) * OHW;
        ci[j] = q / p.W + p.ph;
        cj[j] = q % p.W + p.pw;
      }
    }
    int ar[TM];   // row bases into A
    [[unroll]] for (int i = 0; i < TM; ++i) {
      int m = min(m0 + i, rows - 1);
      ar[i] = MODE == 0 ? (g * OCg + m) * Cg * KK : MODE == 1 ? (g * OCg + m) * OHW : (g * OCg * Cg + m) * KK;
    }
    if (MODE == 0) {
      for (int c = 0; c < Cg; ++c)
        for (int kh = 0; kh < p.KH; ++kh)
          for (int kw = 0; kw < p.KW; ++kw) {
            int k = (c * p.KH + kh) * p.KW + kw;
            float a[TM], b[TN];
            [[unroll]] for (int i = 0; i < TM; ++i) a[i] = fetchA(ar[i] + k);
            [[unroll]] for (int j = 0; j < TN; ++j) {
              int ih = ci[j] + kh * p.dh, iw = cj[j] + kw * p.dw;
              b[j] = fetchB(cb[j] + c * HW + ih * p.W + iw, ih >= 0 && ih < p.H && iw >= 0 && iw < p.W);
            }
            [[unroll]] for (int i = 0; i < TM; ++i)
              [[unroll]] for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
          }
    } else if (MODE == 1) {
      int n_end = min((s + 1) * p.per_slice, p.N);
      for (int img = s * p.per_slice; img < n_end; ++img)
        for (int oh = 0; oh < p.OH; ++oh)
          for (int ow = 0; ow < p.OW; ++ow) {
            int e = img * p.OC * OHW + oh * p.OW + ow;
            int xb = img * p.C * HW;
            float a[TM], b[TN];
            [[unroll]] for (int i = 0; i < TM; ++i) a[i] = fetchA(ar[i] + e);
            [[unroll]] for (int j = 0; j < TN; ++j) {
              int ih = oh * p.sh + ci[j], iw = ow * p.sw + cj[j];
              b[j] = fetchB(xb + cb[j] + ih * p.W + iw, ih >= 0 && ih < p.H && iw >= 0 && iw < p.W);
            }
            [[unroll]] for (int i = 0; i < TM; ++i)
              [[unroll]] for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
          }
    } else {
      for (int oc = 0; oc < OCg; ++oc)
        for (int kh = 0; kh < p.KH; ++kh)
          for (int kw = 0; kw < p.KW; ++kw) {
            int k = oc * Cg * KK + kh * p.KW + kw;
            float a[TM], b[TN];
            [[unroll]] for (int i = 0; i < TM; ++i) a[i] = fetchA(ar[i] + k);
            [[unroll]] for (int j = 0; j < TN; ++j) {
              int oh = ci[j] - kh * p.dh, ow = cj[j] - kw * p.dw;
              b[j] = fetchB(cb[j] + oc * OHW + oh * p.OW + ow, oh >= 0 && oh < p.OH && ow >= 0 && ow < p.OW);
            }
            [[unroll]] for (int i = 0; i < TM; ++i)
              [[unroll]] for (int j = 0; j < TN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
          }
    }
    if (VO == 1) {
      [[unroll]] for (int j = 0; j < TN; j += 4) {
        int n = n0 + j;
        if (n >= cols) break;
        int base;
        if (MODE == 0) base = (n / OHW * p.OC + g * OCg) * OHW + n % OHW;
        else if (MODE == 1) base = (s * p.OC + g * OCg) * Cg * KK + n;
        else base = (n / HW * p.C + g * Cg) * HW + n % HW;
        int rstride = MODE == 0 ? OHW : MODE == 1 ? Cg * KK : HW;
        [[unroll]] for (int i = 0; i < TM; ++i) {
          int m = m0 + i;
          if (m >= rows) break;
          float bm = MODE == 0 && BIAS == 1 ? bias[g * OCg + m] : 0.0;
          // cols is a multiple of the plane, so n + 3 < cols.
          vec4 v = vec4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]) + bm;
          if (MODE == 0 && ACT == 1) v = max(v, vec4(0.0));
          o4[(base + m * rstride) >> 2] = v;
        }
      }
      continue;
    }
    [[unroll]] for (int j = 0; j < TN; ++j) {
      int n = n0 + j;
      if (n >= cols) break;
      int base;   // output offset of (row 0, column n)
      if (MODE == 0) base = (n / OHW * p.OC + g * OCg) * OHW + n % OHW;
      else if (MODE == 1) base = (s * p.OC + g * OCg) * Cg * KK + n;
      else base = (n / HW * p.C + g * Cg) * HW + n % HW;
      int rstride = MODE == 0 ? OHW : MODE == 1 ? Cg * KK : HW;
      [[unroll]] for (int i = 0; i < TM; ++i) {
        int m = m0 + i;
        if (m >= rows) break;
        float v = acc[i][j];
        if (MODE == 0 && BIAS == 1) v += bias[g * OCg + m];
        if (MODE == 0 && ACT == 1) v = max(v, 0.0);
        o[base + m * rstride] = v;
      }
    }
  }
}
