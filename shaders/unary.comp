#version 450
#extension GL_GOOGLE_include_directive : require
// y[i] = f(x[i]) for the unary op chosen by specialization constant OP; a and b are the op's
// scalars (leaky slope, elu alpha, clamp bounds, affine y = a*x + b, pow exponent a).
#include "common.glsl"
#include "unary_ops.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
INPUT_F(0, x)
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float a; float b; int x_texel; } p;

float softplus(float v) { return v > 20.0 ? v : log(1.0 + exp(v)); }

void main() {
  GRID_STRIDE(i, p.n) {
    float v = LOAD_F(x, p.x_texel, i), r;
    if (OP == U_RELU) r = max(v, 0.0);
    else if (OP == U_LEAKY_RELU) r = v > 0.0 ? v : p.a * v;
    else if (OP == U_ELU) r = v > 0.0 ? v : p.a * (exp(v) - 1.0);
    else if (OP == U_SIGMOID) r = 1.0 / (1.0 + exp(-v));
    else if (OP == U_TANH) r = tanh(v);
    else if (OP == U_SOFTPLUS) r = softplus(v);
    else if (OP == U_EXP) r = exp(v);
    else if (OP == U_LOG) r = log(v);
    else if (OP == U_SQRT) r = sqrt(v);
    else if (OP == U_ABS) r = abs(v);
    else if (OP == U_NEG) r = -v;
    else if (OP == U_CLAMP) r = clamp(v, p.a, p.b);
    else if (OP == U_AFFINE) r = p.a * v + p.b;
    else if (OP == U_SQUARE) r = v * v;
    else if (OP == U_POW) r = pow(v, p.a);
    else r = sign(v);
    y[i] = r;
  }
}
