#version 450
#extension GL_GOOGLE_include_directive : require
// im2col for a chunk of nb images starting at image n0 of x [N, C, H, W]:
//   cols[r][q], r = (c*KH + kh)*KW + kw  (C*KH*KW rows), q = nl*OH*OW + oh*OW + ow (nb*OH*OW cols)
//   = x[n0+nl, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]  (0 outside the image)
// Column-major over images so that one GEMM  W[OC, C*KH*KW] @ cols  covers the whole chunk.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Cols { float cols[]; };
layout(push_constant) uniform P {
  int C; int H; int W; int KH; int KW; int OH; int OW; int sh; int sw; int ph; int pw; int dh; int dw; int n0; int nb;
} p;

void main() {
  int ohw = p.OH * p.OW;
  int ncols = p.nb * ohw;
  uint total = uint(p.C * p.KH * p.KW) * uint(ncols);
  GRID_STRIDE(i, total) {
    int r = int(i / uint(ncols)), q = int(i % uint(ncols));
    int kw = r % p.KW, kh = (r / p.KW) % p.KH, c = r / (p.KW * p.KH);
    int nl = q / ohw, pix = q % ohw;
    int oh = pix / p.OW, ow = pix % p.OW;
    int h = oh * p.sh - p.ph + kh * p.dh, w = ow * p.sw - p.pw + kw * p.dw;
    float v = 0.0;
    if (h >= 0 && h < p.H && w >= 0 && w < p.W) v = x[((p.n0 + nl) * p.C + c) * p.H * p.W + h * p.W + w];
    cols[i] = v;
  }
}
