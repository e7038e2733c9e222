#version 450
#extension GL_GOOGLE_include_directive : require
// Fused optimizer updates over n parameters (one dispatch per parameter buffer or arena).
// OP: 0 SGD, 1 momentum SGD (nesterov flag), 2 Adagrad, 3 Adadelta, 4 RMSprop (centered flag,
// optional momentum), 5 Adam (decoupled flag = AdamW). Semantics follow torch.optim.
// s1, s2, s3 are the optimizer's state buffers (unused ones may alias any valid buffer).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
layout(std430, binding = 0) buffer Prm { float prm[]; };
layout(std430, binding = 1) readonly buffer G { float grad[]; };
layout(std430, binding = 2) buffer S1 { float s1[]; };
layout(std430, binding = 3) buffer S2 { float s2[]; };
layout(std430, binding = 4) buffer S3 { float s3[]; };
layout(std430, binding = 5) readonly buffer Scale { float gscale[]; };   // gradient scale (clipping)
layout(push_constant) uniform P {
  uint n; float lr; float wd; float a; float b; float eps; float c1; float c2; int flags; float mom; int first;
} p;
// flags: bit0 nesterov / centered / decoupled weight decay (by OP)

void main() {
  float scale = gscale[0];
  bool flag = (p.flags & 1) != 0;
  GRID_STRIDE(i, p.n) {
    float w = prm[i];
    float g = grad[i] * scale;
    if (!(OP == 5 && flag)) g += p.wd * w;
    if (OP == 0) {
      w -= p.lr * g;
    } else if (OP == 1) {
      // a = momentum, b = dampening; the first step initialises the buffer with g (torch).
      float v = p.first == 1 ? g : p.a * s1[i] + (1.0 - p.b) * g;
      s1[i] = v;
      w -= p.lr * (flag ? g + p.a * v : v);
    } else if (OP == 2) {
      float s = s1[i] + g * g;
      s1[i] = s;
      w -= p.lr * g / (sqrt(s) + p.eps);
    } else if (OP == 3) {
      // a = rho; s1 = E[g^2], s2 = E[dx^2]
      float s = p.a * s1[i] + (1.0 - p.a) * g * g;
      float d = sqrt(s2[i] + p.eps) / sqrt(s + p.eps) * g;
      s1[i] = s;
      s2[i] = p.a * s2[i] + (1.0 - p.a) * d * d;
      w -= p.lr * d;
    } else if (OP == 4) {
      // a = alpha; s1 = E[g^2], s2 = E[g] (centered), s3 = momentum buffer
      float s = p.a * s1[i] + (1.0 - p.a) * g * g;
      s1[i] = s;
      float avg = s;
      if (flag) {
        float m = p.a * s2[i] + (1.0 - p.a) * g;
        s2[i] = m;
        avg = s - m * m;
      }
      float upd = g / (sqrt(max(avg, 0.0)) + p.eps);
      if (p.mom > 0.0) {
        float buf = p.mom * s3[i] + upd;
        s3[i] = buf;
        upd = buf;
      }
      w -= p.lr * upd;
    } else {
      // a = beta1, b = beta2, c1 = 1 - beta1^t, c2 = 1 - beta2^t
      if (flag) w *= 1.0 - p.lr * p.wd;
      float m = p.a * s1[i] + (1.0 - p.a) * g;
      float v = p.b * s2[i] + (1.0 - p.b) * g * g;
      s1[i] = m;
      s2[i] = v;
      w -= p.lr * (m / p.c1) / (sqrt(v / p.c2) + p.eps);
    }
    prm[i] = w;
  }
}
