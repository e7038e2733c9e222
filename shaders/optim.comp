#version 450
#extension GL_GOOGLE_include_directive : require
// Fused optimizer updates over n parameters (one dispatch per parameter buffer or arena).
// OP: 0 SGD, 1 momentum SGD (nesterov flag), 2 Adagrad, 3 Adadelta, 4 RMSprop (centered flag,
// optional momentum), 5 Adam (decoupled flag = AdamW). Semantics follow torch.optim.
// s1, s2, s3 are the optimizer's state buffers (unused ones may alias any valid buffer).
//
// VEC4 == 1: each invocation updates four consecutive parameters through vec4 views of the same
// bindings (the host sets it when every binding starts on 16 bytes); the last n % 4 go one by
// one. Why: llvmpipe turns each storage-buffer access into a loop over the SIMD lanes, and a vec4
// access costs about as much as a float one (measured: 1.3 vs 3.5-4.5 ns per stored float).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int OP = 0;
layout(constant_id = 2) const int VEC4 = 0;
// The flag and whether momentum is on, as specialization constants too (the push constants carry
// the same values for the update formulas): a state buffer the optimizer does not use must not
// be touched at all. Behind a run-time branch llvmpipe still runs the load's or store's loop
// over the SIMD lanes, only with every lane masked off.
layout(constant_id = 3) const int FLAG = 0;
layout(constant_id = 4) const int MOM = 0;
layout(std430, binding = 0) buffer Prm { float prm[]; };
layout(std430, binding = 1) readonly buffer G { float grad[]; };
layout(std430, binding = 2) buffer S1 { float s1[]; };
layout(std430, binding = 3) buffer S2 { float s2[]; };
layout(std430, binding = 4) buffer S3 { float s3[]; };
layout(std430, binding = 0) buffer Prm4 { vec4 prm4[]; };
layout(std430, binding = 1) readonly buffer G4 { vec4 grad4[]; };
layout(std430, binding = 2) buffer S14 { vec4 s14[]; };
layout(std430, binding = 3) buffer S24 { vec4 s24[]; };
layout(std430, binding = 4) buffer S34 { vec4 s34[]; };
layout(std430, binding = 5) readonly buffer Scale { float gscale[]; };   // gradient scale (clipping)
layout(push_constant) uniform P {
  uint n; float lr; float wd; float a; float b; float eps; float c1; float c2; int flags; float mom; int first;
} p;
// flags: bit0 nesterov / centered / decoupled weight decay (by OP)

// One update of four lanes: w, the three state values, g the raw gradient. Only the state values
// the optimizer uses are read or written by the callers.
void update(inout vec4 w, vec4 g, inout vec4 t1, inout vec4 t2, inout vec4 t3, bool flag, float gs) {
  g *= gs;
  if (!(OP == 5 && flag)) g += p.wd * w;
  if (OP == 0) {
    w -= p.lr * g;
  } else if (OP == 1) {
    // a = momentum, b = dampening; the first step initialises the buffer with g (torch).
    vec4 v = p.first == 1 ? g : p.a * t1 + (1.0 - p.b) * g;
    t1 = v;
    w -= p.lr * (flag ? g + p.a * v : v);
  } else if (OP == 2) {
    t1 += g * g;
    w -= p.lr * g / (sqrt(t1) + p.eps);
  } else if (OP == 3) {
    // a = rho; t1 = E[g^2], t2 = E[dx^2]
    vec4 s = p.a * t1 + (1.0 - p.a) * g * g;
    vec4 d = sqrt(t2 + p.eps) / sqrt(s + p.eps) * g;
    t1 = s;
    t2 = p.a * t2 + (1.0 - p.a) * d * d;
    w -= p.lr * d;
  } else if (OP == 4) {
    // a = alpha; t1 = E[g^2], t2 = E[g] (centered), t3 = momentum buffer
    t1 = p.a * t1 + (1.0 - p.a) * g * g;
    vec4 avg = t1;
    if (flag) {
      t2 = p.a * t2 + (1.0 - p.a) * g;
      avg = t1 - t2 * t2;
    }
    vec4 upd = g / (sqrt(max(avg, 0.0)) + p.eps);
    if (MOM == 1) {
      t3 = p.mom * t3 + upd;
      upd = t3;
    }
    w -= p.lr * upd;
  } else {
    // a = beta1, b = beta2, c1 = 1 - beta1^t, c2 = 1 - beta2^t; t1 = m, t2 = v
    if (flag) w *= 1.0 - p.lr * p.wd;
    t1 = p.a * t1 + (1.0 - p.a) * g;
    t2 = p.b * t2 + (1.0 - p.b) * g * g;
    w -= p.lr * (t1 / p.c1) / (sqrt(t2 / p.c2) + p.eps);
  }
}

bool uses1() { return OP != 0; }
bool uses2(bool flag) { return OP == 3 || OP == 5 || (OP == 4 && flag); }
bool uses3() { return OP == 4 && MOM == 1; }

void main() {
  bool flag = FLAG == 1;
  // Read once per invocation: the compiler cannot hoist it past the stores (the bindings may
  // alias), and on llvmpipe every storage load costs a loop over the SIMD lanes.
  float gs = gscale[0];
  uint n4 = VEC4 == 1 ? p.n / 4 : 0;
  GRID_STRIDE(i, n4) {
    vec4 w = prm4[i], t1 = vec4(0), t2 = vec4(0), t3 = vec4(0);
    if (uses1()) t1 = s14[i];
    if (uses2(flag)) t2 = s24[i];
    if (uses3()) t3 = s34[i];
    update(w, grad4[i], t1, t2, t3, flag, gs);
    if (uses1()) s14[i] = t1;
    if (uses2(flag)) s24[i] = t2;
    if (uses3()) s34[i] = t3;
    prm4[i] = w;
  }
  GRID_STRIDE(j, p.n - 4 * n4) {
    uint i = 4 * n4 + j;
    vec4 w = vec4(prm[i]), t1 = vec4(0), t2 = vec4(0), t3 = vec4(0);
    if (uses1()) t1.x = s1[i];
    if (uses2(flag)) t2.x = s2[i];
    if (uses3()) t3.x = s3[i];
    update(w, vec4(grad[i]), t1, t2, t3, flag, gs);
    if (uses1()) s1[i] = t1.x;
    if (uses2(flag)) s2[i] = t2.x;
    if (uses3()) s3[i] = t3.x;
    prm[i] = w.x;
  }
}
