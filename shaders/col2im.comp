#version 450
#extension GL_GOOGLE_include_directive : require
// col2im, the adjoint of im2col.comp: every input pixel of the chunk sums the column entries that
// read it. Gather form, so no atomics are needed:
//   dx[n0+nl, c, h, w] = sum_{kh,kw: h = oh*sh - ph + kh*dh, w = ow*sw - pw + kw*dw} cols[r][q]
//   r = (c*KH + kh)*KW + kw, q = (nl*OH + oh)*OW + ow
// One invocation produces one input row (nl, c, h) of W pixels, each written once (grid-stride
// over rows: the index arithmetic is paid per row). UNIT == 1 (both strides 1) skips the
// divisibility tests: CPU drivers scalarise integer division.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int UNIT = 0;
INPUT_F(0, cols)
layout(std430, binding = 1) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform P {
  int C; int H; int W; int KH; int KW; int OH; int OW; int sh; int sw; int ph; int pw; int dh; int dw; int n0; int nb;
  int in_texel;
} p;

void main() {
  int ncols = p.nb * p.OH * p.OW;
  uint rows = uint(p.nb * p.C * p.H);
  GRID_STRIDE(i, rows) {
    int h = int(i % uint(p.H));
    int t = int(i / uint(p.H));
    int c = t % p.C, nl = t / p.C;
    int o0 = ((p.n0 + nl) * p.C + c) * p.H * p.W + h * p.W;
    for (int w = 0; w < p.W; ++w) {
      float s = 0.0;
      for (int kh = 0; kh < p.KH; ++kh) {
        int th = h + p.ph - kh * p.dh;
        if (th < 0) break;   // th falls as kh grows
        if (UNIT == 0 && th % p.sh != 0) continue;
        int oh = UNIT == 1 ? th : th / p.sh;
        if (oh >= p.OH) continue;
        int rbase = (c * p.KH + kh) * p.KW;
        int qbase = (nl * p.OH + oh) * p.OW;
        for (int kw = 0; kw < p.KW; ++kw) {
          int tw = w + p.pw - kw * p.dw;
          if (tw < 0) break;
          if (UNIT == 0 && tw % p.sw != 0) continue;
          int ow = UNIT == 1 ? tw : tw / p.sw;
          if (ow >= p.OW) continue;
          s += LOAD_F(cols, p.in_texel, (rbase + kw) * ncols + qbase + ow);
        }
      }
      dx[o0 + w] = s;
    }
  }
}
