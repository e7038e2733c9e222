#version 450
#extension GL_GOOGLE_include_directive : require
// Gather / scatter-add along the middle axis. x is [outer, R, inner]; idx and y are [outer, J, inner].
// MODE 0 gather:      y[o, j, k] = x[o, idx[o, j, k], k]
// MODE 1 scatter_add: x[o, r, k] = sum_j y[o, j, k] * (idx[o, j, k] == r)   (x is overwritten;
//   one invocation per (o, k) column walks j, so there are no write conflicts)
// Out-of-range indices read 0 / are skipped (the host validates when it can afford to).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MODE = 0;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer I { int idx[]; };
layout(std430, binding = 2) buffer Y { float y[]; };
layout(push_constant) uniform P { uint outer; uint R; uint J; uint inner; } p;

void main() {
  if (MODE == 0) {
    GRID_STRIDE(i, p.outer * p.J * p.inner) {
      uint k = i % p.inner, o = i / (p.J * p.inner);
      int r = idx[i];
      y[i] = (r >= 0 && uint(r) < p.R) ? x[(o * p.R + uint(r)) * p.inner + k] : 0.0;
    }
  } else {
    GRID_STRIDE(c, p.outer * p.inner) {
      uint o = c / p.inner, k = c % p.inner;
      for (uint r = 0; r < p.R; ++r) x[(o * p.R + r) * p.inner + k] = 0.0;
      for (uint j = 0; j < p.J; ++j) {
        uint q = (o * p.J + j) * p.inner + k;
        int r = idx[q];
        if (r >= 0 && uint(r) < p.R) x[(o * p.R + uint(r)) * p.inner + k] += y[q];
      }
    }
  }
}
