#version 450
#extension GL_GOOGLE_include_directive : require
// Backward of softmax / log-softmax over the middle axis of [outer, R, inner], from the output y:
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - exp(y) * sum(dy)
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int LOG = 0;
layout(std430, binding = 0) readonly buffer Y { float y[]; };
layout(std430, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform P { uint outer; uint R; uint inner; } p;

void main() {
  GRID_STRIDE(j, p.outer * p.inner) {
    uint base = (j / p.inner) * p.R * p.inner + j % p.inner;
    float s = 0.0;
    for (uint r = 0; r < p.R; ++r) {
      uint q = base + r * p.inner;
      s += LOG == 1 ? dy[q] : dy[q] * y[q];
    }
    for (uint r = 0; r < p.R; ++r) {
      uint q = base + r * p.inner;
      dx[q] = LOG == 1 ? dy[q] - exp(y[q]) * s : y[q] * (dy[q] - s);
    }
  }
}
