#version 450
#extension GL_GOOGLE_include_directive : require
// Strided copy of up to 5-D: for every coordinate c of p.shape,
//   dst[dst_off + sum c[d]*dst_stride[d]] = src[src_off + sum c[d]*src_stride[d]]
// (element units). Covers contiguous(), permute/transpose, narrow, concat and split.
// Works on 32-bit words, so it serves f32 and i32 alike.
// ROWS == 1: shape is right-aligned to 5 dims; one invocation copies one row along the last
// dimension (index arithmetic per row, not per element: cheap on CPU drivers). ROWS == 0: one
// element per iteration of a grid-stride loop.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int ROWS = 0;
INPUT_U(0, src)
layout(std430, binding = 1) buffer D { uint dst[]; };
layout(push_constant) uniform P { uint n; int ndim; int shape[5]; int ss[5]; int ds[5]; int src_off; int dst_off; int src_texel; } p;

void main() {
  if (ROWS == 1) {
    uint rows = p.n / uint(p.shape[4]);
    GRID_STRIDE(i, rows) {
      uint r = i;
      int is = p.src_off, id = p.dst_off;
      for (int d = 3; d >= 0; --d) {
        int c = int(r % uint(p.shape[d]));
        r /= uint(p.shape[d]);
        is += c * p.ss[d];
        id += c * p.ds[d];
      }
      for (int k = 0; k < p.shape[4]; ++k) dst[id + k * p.ds[4]] = LOAD_U(src, p.src_texel, is + k * p.ss[4]);
    }
    return;
  }
  GRID_STRIDE(i, p.n) {
    uint r = i;
    int is = p.src_off, id = p.dst_off;
    for (int d = p.ndim - 1; d >= 0; --d) {
      int c = int(r % uint(p.shape[d]));
      r /= uint(p.shape[d]);
      is += c * p.ss[d];
      id += c * p.ds[d];
    }
    dst[id] = LOAD_U(src, p.src_texel, is);
  }
}
