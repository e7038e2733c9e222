#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// Backward of pool.comp in gather form (one invocation per input element, no atomics):
// dx[pl, h, w] = sum over the windows (oh, ow) that contain (h, w) of
//   MAX: dy if idx[window] == h*W + w;   AVG: dy / divisor(window).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MAX = 1;
layout(constant_id = 2) const int NOOVER = 0;   // windows tile the image (see pool.comp): row-wise scatter
// VEC == 1: four consecutive dx elements per invocation (a vec4 store), window and stride as
// constants (see pool.comp): each element visits the ceil(CKH/CSH) x ceil(CKW/CSW) candidate windows.
layout(constant_id = 3) const int VEC = 0;
layout(constant_id = 4) const int CKH = 2;
layout(constant_id = 5) const int CKW = 2;
layout(constant_id = 6) const int CSH = 2;
layout(constant_id = 7) const int CSW = 2;
INPUT_F(0, dy)
INPUT_U(1, idx)
layout(std430, binding = 2) writeonly buffer DX { float dx[]; };
layout(std430, binding = 2) writeonly buffer DX4 { vec4 dx4[]; };
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

void grad_vec4() {
  const int NOH = (CKH + CSH - 1) / CSH, NOW = (CKW + CSW - 1) / CSW;
  uint total = uint(p.planes * p.H * p.W);
  GRID_STRIDE(q, (total + 3u) / 4u) {
    uint i0 = q * 4u;
    int w = int(i0 % uint(p.W));
    uint r = i0 / uint(p.W);
    int h = int(r % uint(p.H)), pl = int(r / uint(p.H));
    vec4 g4 = vec4(0.0);
    [[unroll]] for (int e = 0; e < 4; ++e) {
      bool live = i0 + uint(e) < total;
      // Window (oh, ow) holds (h, w) iff 0 <= h + ph - oh*SH < KH (and likewise along w).
      int hh = h + p.ph, ww = w + p.pw, me = h * p.W + w;
      float s = 0.0;
      [[unroll]] for (int jh = 0; jh < NOH; ++jh)
        [[unroll]] for (int jw = 0; jw < NOW; ++jw) {
          int oh = hh / CSH - jh, ow = ww / CSW - jw;
          bool ok = live && oh >= 0 && oh < p.OH && ow >= 0 && ow < p.OW && hh - oh * CSH < CKH && ww - ow * CSW < CKW;
          int o = ok ? (pl * p.OH + oh) * p.OW + ow : 0;
          float g = LOAD_F(dy, p.in_texel, o);
          if (MAX == 1) { if (ok && int(LOAD_U(idx, p.idx_texel, o)) == me) s += g; }
          else if (ok) s += g / float(divisor(oh, ow));
        }
      g4[e] = s;
      if (++w == p.W) { w = 0; if (++h == p.H) { h = 0; ++pl; } }
    }
    if (i0 + 3u < total) dx4[q] = g4;
    else {
      [[unroll]] for (int e = 0; e < 3; ++e) {
        if (i0 + uint(e) >= total) break;
        dx[i0 + uint(e)] = g4[e];
      }
    }
  }
}

void main() {
  if (VEC == 1) {
    grad_vec4();
    return;
  }
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
