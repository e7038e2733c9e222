#version 450
#extension GL_GOOGLE_include_directive : require
// col2im, the adjoint of im2col.comp: for every input pixel of the chunk, sum the column entries
// that read it. Gather form (one invocation per input element), so no atomics are needed.
//   dx[n0+nl, c, h, w] (+)= sum_{kh,kw: h = oh*sh - ph + kh*dh, w = ow*sw - pw + kw*dw} cols[r][q]
// ACC == 1 adds to dx instead of overwriting (ConvTranspose2d accumulates over chunks never, but
// keeping the option costs nothing).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int ACC = 0;
layout(std430, binding = 0) readonly buffer Cols { float cols[]; };
layout(std430, binding = 1) buffer DX { float dx[]; };
layout(push_constant) uniform P {
  int C; int H; int W; int KH; int KW; int OH; int OW; int sh; int sw; int ph; int pw; int dh; int dw; int n0; int nb;
} p;

void main() {
  int ohw = p.OH * p.OW;
  int ncols = p.nb * ohw;
  uint total = uint(p.nb * p.C * p.H * p.W);
  GRID_STRIDE(i, total) {
    int w = int(i % uint(p.W));
    int h = int((i / uint(p.W)) % uint(p.H));
    int c = int((i / uint(p.W * p.H)) % uint(p.C));
    int nl = int(i / uint(p.W * p.H * p.C));
    float s = 0.0;
    for (int kh = 0; kh < p.KH; ++kh) {
      int th = h + p.ph - kh * p.dh;
      if (th < 0 || th % p.sh != 0) continue;
      int oh = th / p.sh;
      if (oh >= p.OH) continue;
      for (int kw = 0; kw < p.KW; ++kw) {
        int tw = w + p.pw - kw * p.dw;
        if (tw < 0 || tw % p.sw != 0) continue;
        int ow = tw / p.sw;
        if (ow >= p.OW) continue;
        int r = (c * p.KH + kh) * p.KW + kw;
        s += cols[r * ncols + nl * ohw + oh * p.OW + ow];
      }
    }
    uint o = uint(p.n0 * p.C * p.H * p.W) + i;
    dx[o] = ACC == 1 ? dx[o] + s : s;
  }
}
