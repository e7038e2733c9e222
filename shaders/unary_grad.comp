#version 450
#extension GL_GOOGLE_include_directive : require
// dx[i] = dy[i] * f'(x[i]) for the unary op OP; y = f(x) is passed too because several
// derivatives are cheapest from the output (sigmoid, tanh, exp, sqrt, elu).
// VEC4 == 1: four elements per access through vec4 views (see unary.comp), the tail one by one.
#include "common.glsl"
#include "unary_ops.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
layout(constant_id = 2) const int VEC4 = 0;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) readonly buffer DY { float dy[]; };
layout(std430, binding = 3) writeonly buffer DX { float dx[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 2) readonly buffer DY4 { vec4 dy4[]; };
layout(std430, binding = 3) writeonly buffer DX4 { vec4 dx4[]; };
layout(push_constant) uniform P { uint n; float a; float b; } p;

// Ops whose derivative needs x, and those that need y = f(x).
bool needs_x() { return OP == U_RELU || OP == U_LEAKY_RELU || OP == U_ELU || OP == U_SOFTPLUS || OP == U_LOG ||
                        OP == U_ABS || OP == U_CLAMP || OP == U_SQUARE || OP == U_POW || OP == U_SILU ||
                        OP == U_GELU || OP == U_GELU_TANH; }
bool needs_y() { return OP == U_ELU || OP == U_SIGMOID || OP == U_TANH || OP == U_EXP || OP == U_SQRT; }

vec4 deriv(vec4 v, vec4 o) {
  bvec4 pos = greaterThan(v, vec4(0.0));
  if (OP == U_RELU) return vec4(pos);
  if (OP == U_LEAKY_RELU) return mix(vec4(p.a), vec4(1.0), pos);
  if (OP == U_ELU) return mix(o + p.a, vec4(1.0), pos);
  if (OP == U_SIGMOID) return o * (1.0 - o);
  if (OP == U_TANH) return 1.0 - o * o;
  if (OP == U_SOFTPLUS) return 1.0 / (1.0 + exp(-v));
  if (OP == U_EXP) return o;
  if (OP == U_LOG) return 1.0 / v;
  if (OP == U_SQRT) return 0.5 / o;
  if (OP == U_ABS) return sign(v);
  if (OP == U_NEG) return vec4(-1.0);
  if (OP == U_CLAMP) return vec4(greaterThanEqual(v, vec4(p.a))) * vec4(lessThanEqual(v, vec4(p.b)));
  if (OP == U_AFFINE) return vec4(p.a);
  if (OP == U_SQUARE) return 2.0 * v;
  if (OP == U_POW) return p.a * pow(v, vec4(p.a - 1.0));
  if (OP == U_SILU) {
    vec4 s = 1.0 / (1.0 + exp(-v));
    return s * (1.0 + v * (1.0 - s));
  }
  if (OP == U_GELU)   // Phi(v) + v phi(v)
    return 0.5 * (1.0 + erf_approx(v * 0.7071067811865476)) + v * 0.3989422804014327 * exp(-0.5 * v * v);
  if (OP == U_GELU_TANH) {
    vec4 t = gelu_tanh_t(v);
    return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * v * v);
  }
  return vec4(0.0);
}

void main() {
  uint n4 = VEC4 == 1 ? p.n / 4 : 0;
  GRID_STRIDE(q, n4) {
    vec4 v = needs_x() ? x4[q] : vec4(0.0), o = needs_y() ? y4[q] : vec4(0.0);
    dx4[q] = dy4[q] * deriv(v, o);
  }
  GRID_STRIDE(j, p.n - 4 * n4) {
    uint i = 4 * n4 + j;
    vec4 v = vec4(needs_x() ? x[i] : 0.0), o = vec4(needs_y() ? y[i] : 0.0);
    dx[i] = dy[i] * deriv(v, o).x;
  }
}
