#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
// 2-D pooling over x [N*C planes, H, W] -> y [N*C, OH, OW].
// MAX == 1: max pooling, also writes the argmax as h*W + w into idx (padding never wins).
// MAX == 0: average pooling; divisor = KH*KW when p.count_pad == 1 else the in-image count.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MAX = 1;
// NOOVER == 1: windows tile the image (KH == sh, KW == sw, no padding). Then one invocation does a
// whole output row with no bounds tests and no per-element integer division (CPU drivers
// scalarise it).
layout(constant_id = 2) const int NOOVER = 0;
// VEC == 1: four consecutive outputs per invocation (vec4 / ivec4 stores; y and idx start on 16
// bytes), window and stride as constants CKH x CKW / CSH x CSW so that the taps unroll and the
// index arithmetic has no division by a runtime value (CPU drivers scalarise those).
layout(constant_id = 3) const int VEC = 0;
layout(constant_id = 4) const int CKH = 2;
layout(constant_id = 5) const int CKW = 2;
layout(constant_id = 6) const int CSH = 2;
layout(constant_id = 7) const int CSW = 2;
// RMASK == 1 (max pooling of a ReLU output): a window whose maximum is not positive gets index -1,
// so pool_grad sends it no gradient; that is the ReLU's mask too (conv2d_relu_max_pool2d).
layout(constant_id = 8) const int RMASK = 0;
INPUT_F(0, x)
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, binding = 2) writeonly buffer I { int idx[]; };
layout(std430, binding = 1) writeonly buffer Y4 { vec4 y4[]; };
layout(std430, binding = 2) writeonly buffer I4 { ivec4 idx4[]; };
layout(push_constant) uniform P {
  int planes; int H; int W; int OH; int OW; int KH; int KW; int sh; int sw; int ph; int pw; int count_pad;
  int in_texel; int idx_texel;
} p;

void pool_vec4() {
  uint total = uint(p.planes * p.OH * p.OW);
  GRID_STRIDE(q, (total + 3u) / 4u) {
    uint i0 = q * 4u;
    int ow = int(i0 % uint(p.OW));
    uint r = i0 / uint(p.OW);
    int oh = int(r % uint(p.OH)), pl = int(r / uint(p.OH));
    vec4 yv = vec4(0.0);
    ivec4 iv = ivec4(0);
    [[unroll]] for (int e = 0; e < 4; ++e) {
      bool live = i0 + uint(e) < total;
      int base = pl * p.H * p.W, h0 = oh * CSH - p.ph, w0 = ow * CSW - p.pw;
      float best = -3.402823466e38, s = 0.0;
      int bi = -1, cnt = 0;
      [[unroll]] for (int kh = 0; kh < CKH; ++kh)
        [[unroll]] for (int kw = 0; kw < CKW; ++kw) {
          int h = h0 + kh, w = w0 + kw;
          bool ok = live && h >= 0 && h < p.H && w >= 0 && w < p.W;
          float v = LOAD_F(x, p.in_texel, ok ? base + h * p.W + w : 0);   // a valid element when not ok
          if (MAX == 1) { if (ok && (v > best || bi < 0)) { best = v; bi = h * p.W + w; } }
          else if (ok) { s += v; cnt++; }
        }
      yv[e] = MAX == 1 ? best : s / float(p.count_pad == 1 ? CKH * CKW : max(cnt, 1));
      iv[e] = RMASK == 1 && !(best > 0.0) ? -1 : bi;
      if (++ow == p.OW) { ow = 0; if (++oh == p.OH) { oh = 0; ++pl; } }
    }
    if (i0 + 3u < total) {
      y4[q] = yv;
      if (MAX == 1) idx4[q] = iv;
    } else {
      [[unroll]] for (int e = 0; e < 3; ++e) {
        if (i0 + uint(e) >= total) break;
        y[i0 + uint(e)] = yv[e];
        if (MAX == 1) idx[i0 + uint(e)] = iv[e];
      }
    }
  }
}

void main() {
  if (VEC == 1) {
    pool_vec4();
    return;
  }
  if (NOOVER == 1) {
    GRID_STRIDE(r, p.planes * p.OH) {
      int oh = int(r % uint(p.OH)), pl = int(r / uint(p.OH));
      int base = pl * p.H * p.W + oh * p.KH * p.W;
      int o = int(r) * p.OW;
      for (int ow = 0; ow < p.OW; ++ow) {
        float best = 0.0, s = 0.0;
        int bi = -1;
        for (int kh = 0; kh < p.KH; ++kh) {
          for (int kw = 0; kw < p.KW; ++kw) {
            int e = kh * p.W + ow * p.KW + kw;
            float v = LOAD_F(x, p.in_texel, base + e);
            if (MAX == 1) { if (v > best || bi < 0) { best = v; bi = e; } }
            else s += v;
          }
        }
        if (MAX == 1) { y[o + ow] = best; idx[o + ow] = RMASK == 1 && !(best > 0.0) ? -1 : oh * p.KH * p.W + bi; }
        else y[o + ow] = s / float(p.KH * p.KW);
      }
    }
    return;
  }
  uint total = uint(p.planes * p.OH * p.OW);
  GRID_STRIDE(i, total) {
    int ow = int(i % uint(p.OW)), oh = int((i / uint(p.OW)) % uint(p.OH)), pl = int(i / uint(p.OW * p.OH));
    int base = pl * p.H * p.W;
    int h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
    float best = -3.402823466e38, s = 0.0;
    int bi = -1, cnt = 0;
    for (int kh = 0; kh < p.KH; ++kh) {
      int h = h0 + kh;
      if (h < 0 || h >= p.H) continue;
      for (int kw = 0; kw < p.KW; ++kw) {
        int w = w0 + kw;
        if (w < 0 || w >= p.W) continue;
        float v = LOAD_F(x, p.in_texel, base + h * p.W + w);
        if (MAX == 1) { if (v > best || bi < 0) { best = v; bi = h * p.W + w; } }
        else { s += v; cnt++; }
      }
    }
    if (MAX == 1) { y[i] = best; idx[i] = RMASK == 1 && !(best > 0.0) ? -1 : bi; }
    else y[i] = s / float(p.count_pad == 1 ? p.KH * p.KW : max(cnt, 1));
  }
}
