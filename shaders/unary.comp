#version 450
#extension GL_GOOGLE_include_directive : require
// y[i] = f(x[i]) for the unary op chosen by specialization constant OP; a and b are the op's
// scalars (leaky slope, elu alpha, clamp bounds, affine y = a*x + b, pow exponent a).
// VEC4 == 1: four elements per access (x through an RGBA32F texel view or a vec4 storage view,
// y through a vec4 view; the host checks the 16-byte alignment), the last n % 4 one by one.
// llvmpipe pays per access and SIMD lane, not per byte: ~3x fewer cycles per element.
#include "common.glsl"
#include "unary_ops.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
layout(constant_id = 2) const int VEC4 = 0;
#ifdef TEXEL_READS
layout(binding = 0) uniform samplerBuffer x_t;   // R32F view, or RGBA32F when VEC4
#define LOAD4(q) texelFetch(x_t, p.x_texel + int(q))
#define LOAD1(i) (VEC4 == 1 ? texelFetch(x_t, p.x_texel + int((i) >> 2))[(i) & 3] : texelFetch(x_t, p.x_texel + int(i)).x)
#else
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
#define LOAD4(q) x4[q]
#define LOAD1(i) x[i]
#endif
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; float a; float b; int x_texel; } p;

vec4 f(vec4 v) {
  bvec4 pos = greaterThan(v, vec4(0.0));
  if (OP == U_RELU) return max(v, 0.0);
  if (OP == U_LEAKY_RELU) return mix(p.a * v, v, pos);
  if (OP == U_ELU) return mix(p.a * (exp(v) - 1.0), v, pos);
  if (OP == U_SIGMOID) return 1.0 / (1.0 + exp(-v));
  if (OP == U_TANH) return tanh(v);
  if (OP == U_SOFTPLUS) return mix(log(1.0 + exp(v)), v, greaterThan(v, vec4(20.0)));
  if (OP == U_EXP) return exp(v);
  if (OP == U_LOG) return log(v);
  if (OP == U_SQRT) return sqrt(v);
  if (OP == U_ABS) return abs(v);
  if (OP == U_NEG) return -v;
  if (OP == U_CLAMP) return clamp(v, p.a, p.b);
  if (OP == U_AFFINE) return p.a * v + p.b;
  if (OP == U_SQUARE) return v * v;
  if (OP == U_POW) return pow(v, vec4(p.a));
  if (OP == U_SILU) return v / (1.0 + exp(-v));
  if (OP == U_GELU) return 0.5 * v * (1.0 + erf_approx(v * 0.7071067811865476));
  if (OP == U_GELU_TANH) return 0.5 * v * (1.0 + gelu_tanh_t(v));
  return sign(v);
}

void main() {
  uint n4 = VEC4 == 1 ? p.n / 4 : 0;
  GRID_STRIDE(q, n4) y4[q] = f(LOAD4(q));
  GRID_STRIDE(j, p.n - 4 * n4) {
    uint i = 4 * n4 + j;
    y[i] = f(vec4(LOAD1(i))).x;
  }
}
