#version 450
#extension GL_EXT_control_flow_attributes : require
// A convolution's weight gradient for CPU drivers, in conv_direct.comp's shape (ops/conv.cpp picks
// it). The implicit GEMM (conv_implicit.comp, mode 1) walks the reduction one output pixel at a
// time and fetches TM gradient values and TN input values per pixel for TM*TN FMAs (96 FMAs per
// 22 fetches for LeNet-5's first layer). Here each invocation owns the whole kernel of TM output
// channels and one input channel, TM*KH*KW accumulators, and walks its images in blocks of TR x TW
// output pixels: per block it fetches the TM x TR x TW gradient values and the input patch under
// them once, then every accumulator takes its TR*TW products (KW accumulators in lockstep). For
// a 5x5 kernel, 6 channels and a 2x8 block that is 96 + 72 fetches per 2,400 FMAs.
//
// part[s, g*MO+m, c, kh, kw] = sum_{n in slice s, oh, ow} dy[n, g*MO+m, oh, ow] x[n, g*CI+c, oh*SH-ph+kh*DH, ow*SW-pw+kw*DW]
// (zero outside the input). Slices of `per_slice` images give the host enough invocations; it sums
// the slices (or reads part directly when there is one).
// BIAS == 1: the invocations of input channel 0 also sum the gradient values of their channels,
// partb[s, g*MO+m] (the bias gradient, without a pass of its own over dy).
// UNPOOL == 1: dy is not stored; the layer was conv + ReLU + 2x2 stride-2 max pooling fused
// (conv_direct.comp, POOL 1), and DY holds the pooled gradient dp [N, G*MO, OH/2, OW/2], Idx each
// window's argmax index into the OH x OW plane (-1: the ReLU's mask). dy at (oh, ow) is dp of its
// window where the window's argmax is (oh, ow), else 0 (pool_grad.comp's scatter, read in place):
// one dp and one index fetch per window of four values. Needs TR and TW even.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TM = 8;    // output channels per invocation (any count)
layout(constant_id = 2) const int TR = 2;
layout(constant_id = 3) const int TW = 8;
layout(constant_id = 4) const int KH = 3;
layout(constant_id = 5) const int KW = 3;
layout(constant_id = 6) const int SH = 1;
layout(constant_id = 7) const int SW = 1;
layout(constant_id = 8) const int DH = 1;
layout(constant_id = 9) const int DW = 1;
layout(constant_id = 10) const int BIAS = 0;
layout(constant_id = 11) const int UNPOOL = 0;
// PAIRS == 1: X is bound as an RG32F view (p.offX counts pairs) and the patch is fetched two
// columns per texel: the host sets it with unit column stride and dilation, an even input width
// and left padding, even TW and an odd KW, so that every fetched pair starts on an even column and
// lies wholly inside or wholly outside the input. llvmpipe pays per fetch and lane, not per float
// (`vkwb bench access`): LeNet-5's weight gradients fetch their patches with half the gathers.
layout(constant_id = 12) const int PAIRS = 0;
layout(binding = 0) uniform samplerBuffer X;    // the forward input (R32F view; PAIRS 1: RG32F)
layout(binding = 1) uniform samplerBuffer DY;   // the output gradient, UNPOOL 1: the pooled one (R32F view)
layout(std430, binding = 2) writeonly buffer Out { float o[]; };
layout(std430, binding = 3) writeonly buffer OutB { float ob_[]; };   // BIAS 1 (else any buffer, unused)
layout(binding = 4) uniform usamplerBuffer Idx;   // UNPOOL 1 (else any texel view, unused)
layout(push_constant) uniform P {
  int N; int CI; int H; int W; int MO; int OH; int OW; int ph; int pw; int G;
  int offX; int offDY; int tiles_m; int slices; int per_slice; int offIdx;
} p;

const int PR = (TR - 1) * SH + (KH - 1) * DH + 1;
const int PC = (TW - 1) * SW + (KW - 1) * DW + 1;
const int KK = KH * KW;
const int KEEP = PC - TW * SW;   // patch columns shared with the next block of the row (if > 0)

void main() {
  int HW = p.H * p.W, OHW = p.OH * p.OW;
  int total = p.CI * p.tiles_m * p.G * p.slices;
  int stride = int(gl_NumWorkGroups.x * gl_WorkGroupSize.x);
  for (int t = int(gl_GlobalInvocationID.x); t < total; t += stride) {
    int c = t % p.CI;
    int rest = t / p.CI;
    int mt = rest % p.tiles_m;
    rest /= p.tiles_m;
    int g = rest % p.G, s = rest / p.G;
    int m0 = mt * TM;
    float acc[TM][KK];
    [[unroll]] for (int i = 0; i < TM; ++i)
      [[unroll]] for (int k = 0; k < KK; ++k) acc[i][k] = 0.0;
    bool mok[TM];
    [[unroll]] for (int i = 0; i < TM; ++i) mok[i] = m0 + i < p.MO;
    float bsum[TM];
    [[unroll]] for (int i = 0; i < TM; ++i) bsum[i] = 0.0;
    int POH = p.OH / 2, POW = p.OW / 2;
    int n_end = min((s + 1) * p.per_slice, p.N);
    for (int n = s * p.per_slice; n < n_end; ++n) {
      int xb = ((n * p.G + g) * p.CI + c) * HW;
      int db = ((n * p.G + g) * p.MO + m0) * (UNPOOL == 1 ? POH * POW : OHW);
      for (int oh0 = 0; oh0 < p.OH; oh0 += TR) {
        int ih0 = oh0 * SH - p.ph;
        float pt[PR][PC];   // the input patch ("patch" is a GLSL keyword)
        // The blocks of a row walk right by TW*SW input columns; the patch's last KEEP columns are
        // the next block's first (a 2x2 block of a 5x5 kernel fetches 12 values instead of 36).
        // The row's first block fetches its first KEEP columns here, every block the rest below.
        [[unroll]] for (int r = 0; r < PR; ++r)
          [[unroll]] for (int q = 0; q < KEEP; q += PAIRS + 1) {
            int iw = q - p.pw;
            bool ok = ih0 + r >= 0 && ih0 + r < p.H && iw >= 0 && iw < p.W;
            // Outside the image: fetch a valid texel (the tensor's first), then drop it.
            if (PAIRS == 1) {
              vec2 v = texelFetch(X, p.offX + (ok ? (xb + (ih0 + r) * p.W + iw) >> 1 : 0)).xy;
              pt[r][q] = ok ? v.x : 0.0;
              pt[r][q + 1] = ok ? v.y : 0.0;
            } else {
              float v = texelFetch(X, p.offX + (ok ? xb + (ih0 + r) * p.W + iw : 0)).x;
              pt[r][q] = ok ? v : 0.0;
            }
          }
        for (int ow0 = 0; ow0 < p.OW; ow0 += TW) {
          int iw0 = ow0 * SW - p.pw;
          [[unroll]] for (int r = 0; r < PR; ++r)
            [[unroll]] for (int q = KEEP > 0 ? KEEP : 0; q < PC; q += PAIRS + 1) {
              bool ok = ih0 + r >= 0 && ih0 + r < p.H && iw0 + q >= 0 && iw0 + q < p.W;
              if (PAIRS == 1) {
                vec2 v = texelFetch(X, p.offX + (ok ? (xb + (ih0 + r) * p.W + iw0 + q) >> 1 : 0)).xy;
                pt[r][q] = ok ? v.x : 0.0;
                pt[r][q + 1] = ok ? v.y : 0.0;
              } else {
                float v = texelFetch(X, p.offX + (ok ? xb + (ih0 + r) * p.W + iw0 + q : 0)).x;
                pt[r][q] = ok ? v : 0.0;
              }
            }
          if (UNPOOL == 1) {
            // Each 2x2 window of dy holds one nonzero value at most (at its argmax; none where the
            // ReLU masked it), so a window's products are that value times the patch at the
            // argmax's offset (a, b): per window and channel KH*KW FMAs and about two selects per
            // tap instead of 4*KH*KW FMAs, three of every four of them with a zero.
            float dv[TM][TR / 2][TW / 2];
            bool wa[TM][TR / 2][TW / 2], wb[TM][TR / 2][TW / 2];
            [[unroll]] for (int i = 0; i < TM; ++i)
              [[unroll]] for (int u = 0; u < TR / 2; ++u)
                [[unroll]] for (int j = 0; j < TW / 2; ++j) {
                  int pr = oh0 / 2 + u, pc = ow0 / 2 + j;
                  bool ok = mok[i] && pr < POH && pc < POW;
                  int at = ok ? db + i * POH * POW + pr * POW + pc : 0;
                  float v = ok ? texelFetch(DY, p.offDY + at).x : 0.0;
                  int k = int(texelFetch(Idx, p.offIdx + at).x);
                  int rel = k - ((oh0 + 2 * u) * p.OW + ow0 + 2 * j);   // 0, 1, OW or OW + 1 (k = -1: masked)
                  bool a = rel >= p.OW;
                  dv[i][u][j] = k >= 0 ? v : 0.0;
                  wa[i][u][j] = a;
                  wb[i][u][j] = rel - (a ? p.OW : 0) == 1;
                }
            if (BIAS == 1)
              [[unroll]] for (int i = 0; i < TM; ++i)
                [[unroll]] for (int u = 0; u < TR / 2; ++u)
                  [[unroll]] for (int j = 0; j < TW / 2; ++j) bsum[i] += dv[i][u][j];
            [[unroll]] for (int i = 0; i < TM; ++i)
              [[unroll]] for (int u = 0; u < TR / 2; ++u)
                [[unroll]] for (int j = 0; j < TW / 2; ++j)
                  [[unroll]] for (int kh = 0; kh < KH; ++kh)
                    [[unroll]] for (int kw = 0; kw < KW; ++kw) {
                      int r0 = 2 * u * SH + kh * DH, q0 = 2 * j * SW + kw * DW;
                      bool a = wa[i][u][j];
                      float x0 = a ? pt[r0 + SH][q0] : pt[r0][q0];
                      float x1 = a ? pt[r0 + SH][q0 + SW] : pt[r0][q0 + SW];
                      acc[i][kh * KW + kw] = fma(dv[i][u][j], wb[i][u][j] ? x1 : x0, acc[i][kh * KW + kw]);
                    }
          } else {
            float d[TM][TR][TW];   // zero past the last channel, row or column
            [[unroll]] for (int i = 0; i < TM; ++i)
              [[unroll]] for (int r = 0; r < TR; ++r)
                [[unroll]] for (int q = 0; q < TW; ++q) {
                  bool ok = mok[i] && oh0 + r < p.OH && ow0 + q < p.OW;
                  float v = texelFetch(DY, p.offDY + (ok ? db + i * OHW + (oh0 + r) * p.OW + ow0 + q : 0)).x;
                  d[i][r][q] = ok ? v : 0.0;
                }
            if (BIAS == 1)
              [[unroll]] for (int i = 0; i < TM; ++i)
                [[unroll]] for (int r = 0; r < TR; ++r)
                  [[unroll]] for (int q = 0; q < TW; ++q) bsum[i] += d[i][r][q];
            // Fetches first, then the FMAs (a texel fetch is a call that spills every vector
            // register: see conv_direct.comp). The KW accumulators of a kernel row take the block's
            // products in lockstep (KW independent add chains, each d value used KW times in a
            // row), each still in (r, q) order: bit-identical to one accumulator at a time, and
            // 5-10 % faster on LeNet-5's first layer (docs/PERFORMANCE.md, 2026-12-07). All KH*KW
            // chains in lockstep spilled (20-40 % slower). (An interleaving of 2, 4 or 8
            // accumulators' chains tried on 2026-12-05 was no faster.)
            [[unroll]] for (int i = 0; i < TM; ++i)
              [[unroll]] for (int kh = 0; kh < KH; ++kh)
                [[unroll]] for (int r = 0; r < TR; ++r)
                  [[unroll]] for (int q = 0; q < TW; ++q)
                    [[unroll]] for (int kw = 0; kw < KW; ++kw)
                      acc[i][kh * KW + kw] = fma(d[i][r][q], pt[r * SH + kh * DH][q * SW + kw * DW], acc[i][kh * KW + kw]);
          }
          [[unroll]] for (int r = 0; r < PR; ++r)
            [[unroll]] for (int q = 0; q < KEEP; ++q) pt[r][q] = pt[r][q + TW * SW];
        }
      }
    }
    int ob = ((s * p.G + g) * p.MO + m0) * p.CI * KK + c * KK;
    [[unroll]] for (int i = 0; i < TM; ++i) {
      if (!mok[i]) break;
      [[unroll]] for (int k = 0; k < KK; ++k) o[ob + i * p.CI * KK + k] = acc[i][k];
      if (BIAS == 1 && c == 0) ob_[(s * p.G + g) * p.MO + m0 + i] = bsum[i];
    }
  }
}
