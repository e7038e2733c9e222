#version 450
#extension GL_GOOGLE_include_directive : require
// Backward of pool.comp in gather form (one invocation per input element, no atomics):
// dx[pl, h, w] = sum over the windows (oh, ow) that contain (h, w) of
//   MAX: dy if idx[window] == h*W + w;   AVG: dy / divisor(window).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MAX = 1;
layout(constant_id = 2) const int NOOVER = 0;   // windows tile the image (see pool.comp): row-wise scatter
INPUT_F(0, dy)
INPUT_U(1, idx)
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(push_constant) uniform P {
  int planes; int H; int W; int OH; int OW; int KH; int KW; int sh; int sw; int ph; int pw; int count_pad;
  int in_texel; int idx_texel;
} p;

int divisor(int oh, int ow) {
  if (p.count_pad == 1) return p.KH * p.KW;
  int h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  int hs = max(h0, 0), he = min(h0 + p.KH, p.H), ws = max(w0, 0), we = min(w0 + p.KW, p.W);
  return max((he - hs) * (we - ws), 1);
}

void main() {
  if (NOOVER == 1) {
    float inv = 1.0 / float(p.KH * p.KW);
    GRID_STRIDE(r, p.planes * p.H) {
      int h = int(r % uint(p.H)), pl = int(r / uint(p.H));
      int oh = h / p.KH;
      int row = int(r) * p.W;
      int w = 0;
      if (oh < p.OH) {
        int o = (pl * p.OH + oh) * p.OW;
        for (int ow = 0; ow < p.OW; ++ow) {
          float g = LOAD_F(dy, p.in_texel, o + ow);
          int id = MAX == 1 ? int(LOAD_U(idx, p.idx_texel, o + ow)) : 0;
          for (int kw = 0; kw < p.KW; ++kw, ++w) dx[row + w] = MAX == 1 ? (id == h * p.W + w ? g : 0.0) : g * inv;
        }
      }
      for (; w < p.W; ++w) dx[row + w] = 0.0;
    }
    return;
  }
  uint total = uint(p.planes * p.H * p.W);
  GRID_STRIDE(i, total) {
    int w = int(i % uint(p.W)), h = int((i / uint(p.W)) % uint(p.H)), pl = int(i / uint(p.W * p.H));
    int oh_lo = max(0, (h + p.ph - p.KH + p.sh) / p.sh), oh_hi = min(p.OH - 1, (h + p.ph) / p.sh);
    int ow_lo = max(0, (w + p.pw - p.KW + p.sw) / p.sw), ow_hi = min(p.OW - 1, (w + p.pw) / p.sw);
    if (h + p.ph - p.KH + 1 < 0) oh_lo = 0;
    if (w + p.pw - p.KW + 1 < 0) ow_lo = 0;
    float s = 0.0;
    int me = h * p.W + w;
    for (int oh = oh_lo; oh <= oh_hi; ++oh) {
      for (int ow = ow_lo; ow <= ow_hi; ++ow) {
        int o = (pl * p.OH + oh) * p.OW + ow;
        if (MAX == 1) { if (int(LOAD_U(idx, p.idx_texel, o)) == me) s += LOAD_F(dy, p.in_texel, o); }
        else {
          int h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
          if (h >= h0 && h < h0 + p.KH && w >= w0 && w < w0 + p.KW) s += LOAD_F(dy, p.in_texel, o) / float(divisor(oh, ow));
        }
      }
    }
    dx[i] = s;
  }
}
