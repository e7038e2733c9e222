#version 450
#extension GL_GOOGLE_include_directive : require
// dx[i] = dy[i] * f'(x[i]) for the unary op OP; y = f(x) is passed too because several
// derivatives are cheapest from the output (sigmoid, tanh, exp, sqrt, elu).
#include "common.glsl"
#include "unary_ops.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) readonly buffer DY { float dy[]; };
layout(std430, binding = 3) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform P { uint n; float a; float b; } p;

void main() {
  GRID_STRIDE(i, p.n) {
    float v = x[i], o = y[i], d;
    if (OP == U_RELU) d = v > 0.0 ? 1.0 : 0.0;
    else if (OP == U_LEAKY_RELU) d = v > 0.0 ? 1.0 : p.a;
    else if (OP == U_ELU) d = v > 0.0 ? 1.0 : o + p.a;
    else if (OP == U_SIGMOID) d = o * (1.0 - o);
    else if (OP == U_TANH) d = 1.0 - o * o;
    else if (OP == U_SOFTPLUS) d = 1.0 / (1.0 + exp(-v));
    else if (OP == U_EXP) d = o;
    else if (OP == U_LOG) d = 1.0 / v;
    else if (OP == U_SQRT) d = 0.5 / o;
    else if (OP == U_ABS) d = sign(v);
    else if (OP == U_NEG) d = -1.0;
    else if (OP == U_CLAMP) d = (v >= p.a && v <= p.b) ? 1.0 : 0.0;
    else if (OP == U_AFFINE) d = p.a;
    else if (OP == U_SQUARE) d = 2.0 * v;
    else if (OP == U_POW) d = p.a * pow(v, p.a - 1.0);
    else d = 0.0;
    dx[i] = dy[i] * d;
  }
}
