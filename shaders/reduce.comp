#version 450
#extension GL_GOOGLE_include_directive : require
// Reduction over the middle axis of a contiguous [outer, R, inner] view:
//   out[o*inner + k] = reduce_{r<R} x[(o*R + r)*inner + k]
// OP: 0 sum, 1 mean, 2 max, 3 min, 4 var (divisor R - p.ddof), 5 sum of squares, 6 argmax, 7 argmin
// (arg ops write the index, as a float-bits int, to the int view of the output buffer).
// COOP == 0: one invocation per output (many outputs). COOP == 1: one workgroup per output,
// invocations stride over R and combine in shared memory (few outputs, long rows).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
layout(constant_id = 2) const int COOP = 0;
INPUT_F(0, x)
layout(std430, binding = 1) writeonly buffer O { float o[]; };
layout(std430, binding = 2) writeonly buffer OI { int oi[]; };
layout(push_constant) uniform P { uint outer; uint R; uint inner; float ddof; int x_texel; } p;

const int WG = 256;  // upper bound of local_size_x for the shared arrays
shared float s_a[WG];
shared float s_b[WG];
shared int s_i[WG];

// Partial state: (a, b, idx). sum/mean/sumsq: a = sum. max/min/arg: a = best, idx.
// var: Welford-free two-pass would need two sweeps; we keep (sum, sum of squares) in double-ish
// compensated form by shifting with the first element, which is accurate for typical data.
void main() {
  uint nout = p.outer * p.inner;
  uint lx = gl_WorkGroupSize.x;
  if (COOP == 0) {
    GRID_STRIDE(j, nout) {
      uint oo = j / p.inner, k = j % p.inner;
      uint base = oo * p.R * p.inner + k;
      float shift = LOAD_F(x, p.x_texel, base);
      float a = (OP == 2 || OP == 3 || OP >= 6) ? shift : 0.0, b = 0.0;
      int idx = 0;
      for (uint r = 0; r < p.R; ++r) {
        float v = LOAD_F(x, p.x_texel, base + r * p.inner);
        if (OP == 0 || OP == 1) a += v;
        else if (OP == 5) a += v * v;
        else if (OP == 2 || OP == 6) { if (v > a) { a = v; idx = int(r); } }
        else if (OP == 3 || OP == 7) { if (v < a) { a = v; idx = int(r); } }
        else { float d = v - shift; a += d; b += d * d; }
      }
      if (OP == 1) a /= float(p.R);
      if (OP == 4) a = (b - a * a / float(p.R)) / (float(p.R) - p.ddof);
      if (OP >= 6) oi[j] = idx; else o[j] = a;
    }
    return;
  }
  uint lid = gl_LocalInvocationID.x;
  for (uint j = gl_WorkGroupID.x; j < nout; j += gl_NumWorkGroups.x) {
    uint oo = j / p.inner, k = j % p.inner;
    uint base = oo * p.R * p.inner + k;
    float shift = LOAD_F(x, p.x_texel, base);
    float a = (OP == 2 || OP == 3 || OP >= 6) ? shift : 0.0, b = 0.0;
    int idx = 0;
    for (uint r = lid; r < p.R; r += lx) {
      float v = LOAD_F(x, p.x_texel, base + r * p.inner);
      if (OP == 0 || OP == 1) a += v;
      else if (OP == 5) a += v * v;
      else if (OP == 2 || OP == 6) { if (v > a) { a = v; idx = int(r); } }
      else if (OP == 3 || OP == 7) { if (v < a) { a = v; idx = int(r); } }
      else { float d = v - shift; a += d; b += d * d; }
    }
    s_a[lid] = a; s_b[lid] = b; s_i[lid] = idx;
    barrier();
    for (uint s = lx / 2; s > 0; s >>= 1) {
      if (lid < s) {
        float a2 = s_a[lid + s];
        int i2 = s_i[lid + s];
        if (OP == 2 || OP == 6) { if (a2 > s_a[lid] || (a2 == s_a[lid] && i2 < s_i[lid])) { s_a[lid] = a2; s_i[lid] = i2; } }
        else if (OP == 3 || OP == 7) { if (a2 < s_a[lid] || (a2 == s_a[lid] && i2 < s_i[lid])) { s_a[lid] = a2; s_i[lid] = i2; } }
        else { s_a[lid] += a2; s_b[lid] += s_b[lid + s]; }
      }
      barrier();
    }
    if (lid == 0) {
      float ra = s_a[0], rb = s_b[0];
      if (OP == 1) ra /= float(p.R);
      if (OP == 4) ra = (rb - ra * ra / float(p.R)) / (float(p.R) - p.ddof);
      if (OP >= 6) oi[j] = s_i[0]; else o[j] = ra;
    }
    barrier();
  }
}
