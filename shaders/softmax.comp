#version 450
#extension GL_GOOGLE_include_directive : require
// Softmax (LOG == 0) or log-softmax (LOG == 1) over the middle axis of [outer, R, inner];
// one invocation per (outer, inner) row, max-subtracted for stability.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int LOG = 0;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint outer; uint R; uint inner; } p;

void main() {
  GRID_STRIDE(j, p.outer * p.inner) {
    uint base = (j / p.inner) * p.R * p.inner + j % p.inner;
    float m = x[base];
    for (uint r = 1; r < p.R; ++r) m = max(m, x[base + r * p.inner]);
    float s = 0.0;
    for (uint r = 0; r < p.R; ++r) s += exp(x[base + r * p.inner] - m);
    float ls = log(s);
    for (uint r = 0; r < p.R; ++r) {
      float v = x[base + r * p.inner] - m;
      y[base + r * p.inner] = LOG == 1 ? v - ls : exp(v) / s;
    }
  }
}
