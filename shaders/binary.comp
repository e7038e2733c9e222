#version 450
#extension GL_GOOGLE_include_directive : require
// out[i] = a[ia] OP b[ib] with NumPy broadcasting. BCAST == 0: a, b and out have the same
// shape (ia = ib = i). BCAST == 1: up to 5-D; out is contiguous with shape p.shape, a and b are
// read through strides in elements (0 on broadcast dimensions). Comparisons give 1.0 or 0.0.
// VEC4 == 1 (with BCAST == 0): four elements per access through vec4 views, the tail one by one
// (see unary.comp for why).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
layout(constant_id = 2) const int BCAST = 0;
layout(constant_id = 3) const int VEC4 = 0;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(std430, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, binding = 2) writeonly buffer O4 { vec4 o4[]; };
layout(push_constant) uniform P { uint n; int ndim; int shape[5]; int sa[5]; int sb[5]; } p;

vec4 apply(vec4 x, vec4 y) {
  if (OP == 0) return x + y;
  if (OP == 1) return x - y;
  if (OP == 2) return x * y;
  if (OP == 3) return x / y;
  if (OP == 4) return max(x, y);
  if (OP == 5) return min(x, y);
  if (OP == 6) return pow(x, y);
  if (OP == 7) return vec4(greaterThanEqual(x, y));
  if (OP == 8) return vec4(greaterThan(x, y));
  if (OP == 9) return vec4(equal(x, y));
  if (OP == 10) return vec4(lessThan(x, y));
  return vec4(lessThanEqual(x, y));
}
float apply(float x, float y) { return apply(vec4(x), vec4(y)).x; }

void main() {
  uint n4 = VEC4 == 1 ? p.n / 4 : 0;
  GRID_STRIDE(q, n4) o4[q] = apply(a4[q], b4[q]);
  GRID_STRIDE(i0, p.n - 4 * n4) {
    uint i = 4 * n4 + i0;
    if (BCAST == 0) {
      o[i] = apply(a[i], b[i]);
    } else {
      uint r = i;
      int ia = 0, ib = 0;
      for (int d = p.ndim - 1; d >= 0; --d) {
        int c = int(r % uint(p.shape[d]));
        r /= uint(p.shape[d]);
        ia += c * p.sa[d];
        ib += c * p.sb[d];
      }
      o[i] = apply(a[ia], b[ib]);
    }
  }
}
