#version 450
#extension GL_GOOGLE_include_directive : require
// im2col for a chunk of nb images starting at image n0 of x [N, C, H, W]:
//   cols[r][q], r = (c*KH + kh)*KW + kw  (C*KH*KW rows), q = nl*OH*OW + oh*OW + ow (nb*OH*OW cols)
//   = x[n0+nl, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]  (0 outside the image)
// Column-major over images so that one GEMM  W[OC, C*KH*KW] @ cols  covers the whole chunk.
// One invocation writes one output row (r, nl, oh) of OW values (grid-stride over rows): index
// arithmetic is paid per row, and CPU drivers get few, long-running workgroups.
#include "common.glsl"
layout(local_size_x_id = 0) in;
INPUT_F(0, x)
layout(std430, binding = 1) writeonly buffer Cols { float cols[]; };
layout(push_constant) uniform P {
  int C; int H; int W; int KH; int KW; int OH; int OW; int sh; int sw; int ph; int pw; int dh; int dw; int n0; int nb;
  int in_texel;
} p;

void main() {
  uint rows = uint(p.C * p.KH * p.KW * p.nb * p.OH);
  GRID_STRIDE(i, rows) {
    int oh = int(i % uint(p.OH));
    int t = int(i / uint(p.OH));
    int nl = t % p.nb, r = t / p.nb;
    int kw = r % p.KW, kh = (r / p.KW) % p.KH, c = r / (p.KW * p.KH);
    int h = oh * p.sh - p.ph + kh * p.dh;
    int o0 = r * (p.nb * p.OH * p.OW) + (nl * p.OH + oh) * p.OW;
    if (h < 0 || h >= p.H) {
      for (int ow = 0; ow < p.OW; ++ow) cols[o0 + ow] = 0.0;
      continue;
    }
    int in_row = ((p.n0 + nl) * p.C + c) * p.H * p.W + h * p.W;
    int w = kw * p.dw - p.pw;
    for (int ow = 0; ow < p.OW; ++ow, w += p.sw) cols[o0 + ow] = (w >= 0 && w < p.W) ? LOAD_F(x, p.in_texel, in_row + w) : 0.0;
  }
}
