#version 450
#extension GL_GOOGLE_include_directive : require
// col2im, the adjoint of im2col.comp: for every input pixel of the chunk, sum the column entries
// that read it. Gather form, so no atomics are needed:
//   dx[n0+nl, c, h, w] = sum_{kh,kw: h = oh*sh - ph + kh*dh, w = ow*sw - pw + kw*dw} cols[r][q]
// One invocation produces one input row (c, nl, h) of W values (grid-stride over rows).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Cols { float cols[]; };
layout(std430, binding = 1) buffer DX { float dx[]; };
layout(push_constant) uniform P {
  int C; int H; int W; int KH; int KW; int OH; int OW; int sh; int sw; int ph; int pw; int dh; int dw; int n0; int nb;
} p;

void main() {
  int ncols = p.nb * p.OH * p.OW;
  uint rows = uint(p.C * p.nb * p.H);
  GRID_STRIDE(i, rows) {
    int h = int(i % uint(p.H));
    int t = int(i / uint(p.H));
    int nl = t % p.nb, c = t / p.nb;
    int o0 = ((p.n0 + nl) * p.C + c) * p.H * p.W + h * p.W;
    for (int w = 0; w < p.W; ++w) dx[o0 + w] = 0.0;
    for (int kh = 0; kh < p.KH; ++kh) {
      int th = h + p.ph - kh * p.dh;
      if (th < 0 || th % p.sh != 0) continue;
      int oh = th / p.sh;
      if (oh >= p.OH) continue;
      for (int kw = 0; kw < p.KW; ++kw) {
        int r = (c * p.KH + kh) * p.KW + kw;
        int base = r * ncols + (nl * p.OH + oh) * p.OW;
        // w + pw - kw*dw = ow*sw  for ow in [0, OW)
        for (int ow = 0; ow < p.OW; ++ow) {
          int w = ow * p.sw - p.pw + kw * p.dw;
          if (w >= 0 && w < p.W) dx[o0 + w] += cols[base + ow];
        }
      }
    }
  }
}
