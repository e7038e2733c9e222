#version 450
#extension GL_GOOGLE_include_directive : require
// Fused batch normalisation over x viewed as [N, C, HW] (M = N*HW values per channel), in five
// modes chosen by specialization constant MODE. Per-channel buffers are laid out channel-major in
// blocks of C floats; "stats" is [mean, var, scale, shift] (4C), "coef" is [dw, db, g, b2, c2] (5C).
//   0 stats, training:  one workgroup per channel reduces x (shifted sums) -> out = stats;
//                       with flag 1 also running_mean/var <- (1-m)*running + m*batch (var unbiased).
//   1 stats, eval:      out = stats from running_mean/var (one invocation per channel).
//   2 forward apply:    out[i] = x[i]*scale[c] + shift[c]   (k = stats)
//   3 backward reduce:  one workgroup per channel: dw = sum(dy*(x-mean))*inv, db = sum(dy),
//                       g = w*inv; training: b2 = -g*inv*dw/M, c2 = -g*db/M - b2*mean; eval: 0, 0
//                       -> out = coef   (k = stats)
//   4 backward apply:   out[i] = g[c]*dy[i] + b2[c]*x[i] + c2[c]   (k = coef)
// with inv = 1/sqrt(var + eps), scale = w*inv, shift = b - mean*scale (w = 1, b = 0 when absent:
// flags 2 and 4). Inputs x, dy and k are read through LOAD_F (texel buffers in the _texel build).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MODE = 0;
INPUT_F(0, x)
INPUT_F(1, dy)
INPUT_F(2, k)
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(std430, binding = 4) readonly buffer Wt { float w[]; };
layout(std430, binding = 5) readonly buffer Bs { float b[]; };
layout(std430, binding = 6) buffer RM { float rm[]; };
layout(std430, binding = 7) buffer RV { float rv[]; };
layout(push_constant) uniform P {
  uint N; uint C; uint HW; float eps; float momentum; int flags; int x_texel; int dy_texel; int k_texel;
} p;

const int WG = 256;   // upper bound of local_size_x for the shared arrays
shared float s_a[WG];
shared float s_b[WG];

float weight(uint c) { return (p.flags & 2) != 0 ? w[c] : 1.0; }
float bias(uint c) { return (p.flags & 4) != 0 ? b[c] : 0.0; }

void write_stats(uint c, float mean, float var) {
  float sc = weight(c) * inversesqrt(var + p.eps);
  o[c] = mean;
  o[p.C + c] = var;
  o[2 * p.C + c] = sc;
  o[3 * p.C + c] = bias(c) - mean * sc;
}

// Sums (a, b) over the workgroup; the totals are returned to every invocation.
void workgroup_sum(inout float a, inout float bb) {
  uint lid = gl_LocalInvocationID.x;
  s_a[lid] = a;
  s_b[lid] = bb;
  barrier();
  for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1) {
    if (lid < s) {
      s_a[lid] += s_a[lid + s];
      s_b[lid] += s_b[lid + s];
    }
    barrier();
  }
  a = s_a[0];
  bb = s_b[0];
  barrier();
}

void main() {
  uint M = p.N * p.HW, total = M * p.C;
  uint lid = gl_LocalInvocationID.x, lx = gl_WorkGroupSize.x;
  if (MODE == 1) {
    GRID_STRIDE(c, p.C) write_stats(c, rm[c], rv[c]);
    return;
  }
  if (MODE == 2) {
    GRID_STRIDE(i, total) {
      uint c = (i / p.HW) % p.C;
      o[i] = LOAD_F(x, p.x_texel, i) * LOAD_F(k, p.k_texel, 2 * p.C + c) + LOAD_F(k, p.k_texel, 3 * p.C + c);
    }
    return;
  }
  if (MODE == 4) {
    GRID_STRIDE(i, total) {
      uint c = (i / p.HW) % p.C;
      o[i] = LOAD_F(k, p.k_texel, 2 * p.C + c) * LOAD_F(dy, p.dy_texel, i) +
             LOAD_F(k, p.k_texel, 3 * p.C + c) * LOAD_F(x, p.x_texel, i) + LOAD_F(k, p.k_texel, 4 * p.C + c);
    }
    return;
  }
  // Modes 0 and 3: one workgroup per channel, invocations stride over the channel's M values.
  for (uint c = gl_WorkGroupID.x; c < p.C; c += gl_NumWorkGroups.x) {
    float shift = MODE == 0 ? LOAD_F(x, p.x_texel, c * p.HW) : LOAD_F(k, p.k_texel, c);   // mode 3: the mean
    float a = 0.0, bb = 0.0;
    for (uint r = lid; r < M; r += lx) {
      uint n = r / p.HW;
      uint i = (n * p.C + c) * p.HW + (r - n * p.HW);
      float d = LOAD_F(x, p.x_texel, i) - shift;
      if (MODE == 0) {
        a += d;
        bb += d * d;
      } else {
        float g = LOAD_F(dy, p.dy_texel, i);
        a += g;
        bb += g * d;
      }
    }
    workgroup_sum(a, bb);
    if (lid == 0) {
      float fm = float(M);
      if (MODE == 0) {
        float mean = shift + a / fm;
        float var = max((bb - a * a / fm) / fm, 0.0);
        write_stats(c, mean, var);
        if ((p.flags & 1) != 0) {
          rm[c] = (1.0 - p.momentum) * rm[c] + p.momentum * mean;
          rv[c] = (1.0 - p.momentum) * rv[c] + p.momentum * var * fm / max(fm - 1.0, 1.0);
        }
      } else {
        float inv = inversesqrt(LOAD_F(k, p.k_texel, p.C + c) + p.eps);
        float dw = bb * inv, db = a, g = weight(c) * inv;
        bool training = (p.flags & 8) != 0;
        float b2 = training ? -g * inv * dw / fm : 0.0;
        float c2 = training ? -g * db / fm - b2 * shift : 0.0;
        o[c] = dw;
        o[p.C + c] = db;
        o[2 * p.C + c] = g;
        o[3 * p.C + c] = b2;
        o[4 * p.C + c] = c2;
      }
    }
  }
}
