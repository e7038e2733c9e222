#version 450
#extension GL_GOOGLE_include_directive : require
// out[i] = a[ia] OP b[ib] with NumPy broadcasting. BCAST == 0: a, b and out have the same
// shape (ia = ib = i). BCAST == 1: up to 5-D; out is contiguous with shape p.shape, a and b are
// read through strides in elements (0 on broadcast dimensions). Comparisons give 1.0 or 0.0.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
layout(constant_id = 2) const int BCAST = 0;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint n; int ndim; int shape[5]; int sa[5]; int sb[5]; } p;

float apply(float x, float y) {
  if (OP == 0) return x + y;
  if (OP == 1) return x - y;
  if (OP == 2) return x * y;
  if (OP == 3) return x / y;
  if (OP == 4) return max(x, y);
  if (OP == 5) return min(x, y);
  if (OP == 6) return pow(x, y);
  if (OP == 7) return x >= y ? 1.0 : 0.0;
  if (OP == 8) return x > y ? 1.0 : 0.0;
  if (OP == 9) return x == y ? 1.0 : 0.0;
  if (OP == 10) return x < y ? 1.0 : 0.0;
  return x <= y ? 1.0 : 0.0;
}

void main() {
  GRID_STRIDE(i, p.n) {
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
