#version 450
#extension GL_EXT_control_flow_attributes : require
// Direct convolution with register blocking, for CPU Vulkan drivers (ops/conv.cpp picks it).
// The implicit GEMM (conv_implicit.comp) fetches one input element per output pixel and kernel
// tap: KH*KW gathers per pixel and input channel. Here each invocation computes a block of
// TM output channels x TR output rows x TW output columns of one image: per input channel it
// fetches the (TR-1)*SH + (KH-1)*DH + 1 by (TW-1)*SW + (KW-1)*DW + 1 input patch once into
// registers and reuses it for every tap, and the weights of the TM channels (all taps of the channel).
// For a 3x3 kernel and a 2x8 block that is 40 + 36 fetches per 2,304 FMAs instead of 432.
// Kernel size, strides and dilations are specialization constants, so the tap loops unroll.
//
// MODE 0: y[n, g*MO+m, oh, ow] = sum_{c,kh,kw} wt[g, c, kh, kw, m] x[n, g*CI+c, oh*SH-ph+kh*DH, ow*SW-pw+kw*DW]
//         (+ bias[g*MO+m]); zero outside the input (padding, possibly negative). ACT 1: y = max(y, 0)
//         (a fused ReLU epilogue).
// MODE 1: prepares wt [G, CI, KH, KW, MP] (MP = MO rounded up to TM and 4, zeros beyond MO) from a
//         convolution weight w, read through X (an R32F view of w; p.offX its first texel); VO 1:
//         wt stored four floats at a time (llvmpipe pays a lane loop per storage access). FLIP 0: w is [G*MO, CI, KH, KW] (the forward). FLIP 1: w is
//         [G*CI, MO, KH, KW] and the taps are mirrored: the data gradient of a stride-1
//         convolution is the convolution of dy with these weights and padding d*(k-1) - p.
//         With channel groups (MR below) the layout is [G, CI, NG, MP] instead (GROUPED below).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MODE = 0;
layout(constant_id = 2) const int TM = 8;    // a multiple of 4, or all MO channels (one tile, m0 = 0)
layout(constant_id = 3) const int TR = 2;
layout(constant_id = 4) const int TW = 8;
layout(constant_id = 5) const int KH = 3;
layout(constant_id = 6) const int KW = 3;
layout(constant_id = 7) const int SH = 1;
layout(constant_id = 8) const int SW = 1;
layout(constant_id = 9) const int DH = 1;
layout(constant_id = 10) const int DW = 1;
layout(constant_id = 11) const int BIAS = 0;
// VO == 1: outputs stored four columns at a time (the host sets it when OW, TW and the output
// binding's offset are multiples of 4 floats; see unary.comp for why that matters on CPUs).
// VO == 2: two at a time (OW and TW even); with POOL, the pooled outputs and their indices two
// windows at a time (the pooled width OW/2 and TW/2 even). llvmpipe pays a loop over the SIMD
// lanes per storage access, whatever its width: a pair costs about what one float does.
layout(constant_id = 12) const int VO = 0;
layout(constant_id = 13) const int FLIP = 0;
layout(constant_id = 14) const int ACT = 0;
// POOL == 1 (with ACT 1, TR and TW even): 2x2 stride-2 max pooling of the ReLU output in the
// epilogue. Out receives the pooled [N, G*MO, OH/2, OW/2] (floor), Idx each window's argmax as an
// index into the OH x OW plane (the first maximum in row-major order, as pool.comp), or -1 when
// the maximum is 0 (the ReLU's mask, see ops/pool.h); the full-size output is never stored.
layout(constant_id = 15) const int POOL = 0;
// UNPOOL == 1 (MODE 0, unit strides and dilations, ph, pw, TR and TW even): the input is not
// stored; it was the gradient of a fused conv + ReLU + 2x2 stride-2 max pooling (POOL 1 above) and
// X holds the pooled gradient [N, G*CI, H/2, W/2], IdxIn each window's argmax index into the H x W
// plane (-1: masked). x at (h, w) is the pooled value of its window where the argmax is (h, w),
// else 0 (pool_grad.comp's scatter, read in place): a fetch of each and a fetch of the index per
// window of four patch values. The data gradient of the layer before the pooling takes it.
layout(constant_id = 16) const int UNPOOL = 0;
// ONE_W == 1 (one input channel, one channel tile, one group: a network's first layer): the
// weights are the same for every block, so each invocation fetches them once, before its blocks
// (the host gives each invocation several blocks), instead of once per block (with channel
// groups, MR below, each group fetches its own per block; the patch is shared). Without UNPOOL
// those blocks are `seg` consecutive block rows of one image and block column, and the patch rolls
// down them: each block fetches only the TR*SH input rows the block above did not (ROLL below).
layout(constant_id = 17) const int ONE_W = 0;
// FULLW == 1: one block spans the output's width (tiles_c 1, so ow0 = 0), and the input's width and
// left padding are these constants: the patch columns outside the input are known when the kernel
// is compiled, and their FMAs (zero products: a data gradient's padding is KW - 1 columns on each
// side) and fetches are left out. LeNet-5's conv2 data gradient: 50 of its 70 column taps remain.
layout(constant_id = 18) const int FULLW = 0;
layout(constant_id = 19) const int CW = 1;    // FULLW: the input width (p.W)
layout(constant_id = 20) const int CPW = 0;   // FULLW: the left padding (p.pw)
// MR < TM: the block's TM channels are taken MR at a time in a loop that is not unrolled, each
// group with its own MR x TR x TW accumulators, weight fetches and epilogue. A fully unrolled
// block is straight-line code of TM*TR*TW*KH*KW multiply-adds: LeNet-5's first layer (2x14x6,
// 5x5) compiled to ~96 KiB per block on llvmpipe, three times the CPU's L1 instruction cache, and
// did half as many multiply-adds per second as the layer after it (docs/PERFORMANCE.md,
// 2026-12-07 evening). A group's body is TM/MR times smaller and its accumulators stay in
// registers. With one input channel (ONE_W) the patch is fetched once per block, before the
// groups; otherwise once per group and channel.
// Each accumulator sums the same terms in the same order as with MR == TM: bit-identical.
layout(constant_id = 21) const int MR = 0;   // 0: MR = TM
// CIK > 0: the input has CIK channels (p.CI == CIK), and every channel's patch is fetched once per
// block, before the groups, as with one input channel: the groups then fetch only their weights.
layout(constant_id = 22) const int CIK = 0;
// FIXR == 1 (not with ROLL): the dispatch takes the one block row CT (p.tiles_r 1), and the input's
// height and top padding are these constants: the patch rows outside the input are known when the
// kernel is compiled, and their FMAs and fetches are left out, as FULLW does for the columns. The
// host gives each block row at the top and bottom edges a dispatch of its own and the rows between
// one together (p.tr0: a dispatch's first block row). LeNet-5's conv2 data gradient (a 10-row input
// padded by 4): 50 of its 70 row taps remain.
layout(constant_id = 23) const int FIXR = 0;
layout(constant_id = 24) const int CH = 1;    // FIXR: the input height (p.H)
layout(constant_id = 25) const int CPH = 0;   // FIXR: the top padding (p.ph)
layout(constant_id = 26) const int CT = 0;    // FIXR: the block row
// PAIRS == 1 (MODE 0, not UNPOOL): X is bound as an RG32F view (p.offX counts pairs) and the patch
// is fetched two columns per texel. The host sets it with unit column stride and dilation, an
// even input width, left padding and TW, and an odd KW: every pair starts on an even column and
// lies wholly inside or wholly outside the input (as conv_direct_dw.comp's PAIRS).
layout(constant_id = 27) const int PAIRS = 0;
layout(binding = 0) uniform samplerBuffer X;    // MODE 0: the input (R32F view; PAIRS 1: RG32F)
layout(binding = 1) uniform samplerBuffer Wt;   // MODE 0: wt (RGBA32F view)
layout(std430, binding = 2) writeonly buffer Out { float o[]; };
layout(std430, binding = 2) writeonly buffer Out4 { vec4 o4[]; };
layout(std430, binding = 2) writeonly buffer Out2 { vec2 o2[]; };
layout(std430, binding = 3) readonly buffer In { float src[]; };   // MODE 0: bias
layout(std430, binding = 4) writeonly buffer Idx { int idxo[]; };   // POOL 1 (else any buffer, unused)
layout(std430, binding = 4) writeonly buffer Idx2 { ivec2 idxo2[]; };
layout(binding = 5) uniform usamplerBuffer IdxIn;   // UNPOOL 1 (else any texel view, unused)
layout(push_constant) uniform P {
  int N; int CI; int H; int W; int MO; int MP; int OH; int OW; int ph; int pw; int G;
  int offX; int offW; int tiles_r; int tiles_c; int tiles_m; int offIdx; int seg; int segs; int tr0;
} p;

const int PR = (TR - 1) * SH + (KH - 1) * DH + 1;
const int PC = (TW - 1) * SW + (KW - 1) * DW + 1;
const bool ROLL = ONE_W == 1 && UNPOOL == 0 && FIXR == 0;
const int GM = MR > 0 && MR < TM ? MR : TM;   // channels per group
const bool HOIST_W = ONE_W == 1 && GM == TM;   // the weights fetched once per invocation
// GM < TM: the prepared weights are [G, CI, NG, MP] with NG = ceil(MO / TM) * TM / GM groups and
// MP = KH*KW*GM rounded up to 4 (per group its taps x GM channels, zeros past MO), so a group's
// weights are whole consecutive texels.
const bool GROUPED = GM < TM;
// Whether patch column q can hold an input value (false: known zero, FULLW only).
bool col_in(int q) { return FULLW == 0 || (q - CPW >= 0 && q - CPW < CW); }
// Whether patch row r can hold an input value (false: known zero, FIXR only).
bool row_in(int r) { return FIXR == 0 || (CT * TR * SH - CPH + r >= 0 && CT * TR * SH - CPH + r < CH); }
const int KEEPR = PR - TR * SH;   // ROLL: patch rows shared with the next block row (if > 0)

void prepare() {
  // One invocation per (group, channel, tap) row of MP outputs: a division by a value known only at
  // run time is a scalar loop over the lanes in llvmpipe's code, so one per row, not per element.
  // GROUPED: one per (group, channel, channel group of GM) row of MP = KH*KW*GM (rounded up to 4).
  const int KK = KH * KW;
  int NG = (p.MO + TM - 1) / TM * (TM / GM);   // groups of every channel tile
  int rows = GROUPED ? p.G * p.CI * NG : p.G * p.CI * KK;
  int stride = int(gl_NumWorkGroups.x * gl_WorkGroupSize.x);
  for (int row = int(gl_GlobalInvocationID.x); row < rows; row += stride) {
    int tap = row % KK, rest = row / KK, m_base = 0;
    if (GROUPED) tap = 0, m_base = row % NG * GM, rest = row / NG;
    int c = rest % p.CI, g = rest / p.CI;
    for (int k0 = 0; k0 < p.MP; k0 += VO == 1 ? 4 : 1) {   // (MP: a multiple of 4)
      vec4 q = vec4(0.0);
      [[unroll]] for (int e = 0; e < (VO == 1 ? 4 : 1); ++e) {
        int k = k0 + e;
        int m = GROUPED ? m_base + k % GM : k, tp = GROUPED ? k / GM : tap;
        bool ok = m < p.MO && tp < KK;
        int at = FLIP == 0 ? ((g * p.MO + m) * p.CI + c) * KK + tp : ((g * p.CI + c) * p.MO + m) * KK + (KK - 1 - tp);
        float v = texelFetch(X, p.offX + (ok ? at : 0)).x;   // (a valid texel, then dropped)
        q[e] = ok ? v : 0.0;
      }
      if (VO == 1) o4[(row * p.MP + k0) >> 2] = q;
      else o[row * p.MP + k0] = q.x;
    }
  }
}

// Per invocation (module scope, so that the helpers below share them; llvmpipe keeps them in
// registers or on the stack like locals).
const int NPC = CIK > 0 ? CIK : 1;   // patches held at a time
const bool HOIST_P = ONE_W == 1 || CIK > 0;   // every channel's patch fetched before the groups
float pt[NPC][PR][PC];   // the input patch, per channel when HOIST_P ("patch" is a GLSL keyword)
float wa[KH * KW][(GM + 3) / 4 * 4];   // a group's weights, per tap (TM = 6: the second texel's last two unused)
float acc[GM][TR][TW];
bool rok[PR], cok[PC];

// Patch rows [r0, PR) of one input channel starting at element xb (row ih0, column iw0), into
// pt[ci].
void fetch_patch(int ci, int r0, int xb, int ih0, int iw0) {
  if (UNPOOL == 1) {
    int PH = p.H / 2, PW = p.W / 2;   // the pooled plane
    [[unroll]] for (int u = 0; u < (PR + 1) / 2; ++u)
      [[unroll]] for (int j = 0; j < (PC + 1) / 2; ++j) {
        if ((!col_in(2 * j) && !col_in(2 * j + 1)) || (!row_in(2 * u) && !row_in(2 * u + 1))) continue;   // (never read)
        int pr = ih0 / 2 + u, pc = iw0 / 2 + j;   // ih0, iw0 even
        bool ok = pr >= 0 && pr < PH && pc >= 0 && pc < PW;
        int at = ok ? xb + pr * PW + pc : 0;
        float v = ok ? texelFetch(X, p.offX + at).x : 0.0;   // (k may match a position < 0)
        int k = int(texelFetch(IdxIn, p.offIdx + at).x);
        [[unroll]] for (int a = 0; a < 2; ++a)
          [[unroll]] for (int b = 0; b < 2; ++b)
            if (2 * u + a < PR && 2 * j + b < PC)
              pt[ci][2 * u + a][2 * j + b] = k == (ih0 + 2 * u + a) * p.W + iw0 + 2 * j + b ? v : 0.0;
      }
  } else {
    [[unroll]] for (int r = r0; r < PR; ++r)
      [[unroll]] for (int q = 0; q < PC; q += PAIRS + 1) {
        if (!col_in(q) || !row_in(r)) continue;   // (never read; PAIRS: nor column q + 1)
        bool ok = rok[r] && cok[q];
        // Outside the image: fetch a valid texel (the tensor's first), then drop it.
        if (PAIRS == 1) {
          vec2 v = texelFetch(X, p.offX + (ok ? (xb + r * p.W + q) >> 1 : 0)).xy;
          pt[ci][r][q] = ok ? v.x : 0.0;
          pt[ci][r][q + 1] = ok ? v.y : 0.0;
        } else {
          float v = texelFetch(X, p.offX + (ok ? xb + r * p.W + q : 0)).x;
          pt[ci][r][q] = ok ? v : 0.0;
        }
      }
  }
}

// The weights of input channel c and channels m0 + mg .. m0 + mg + GM - 1 of group g, every tap;
// wb: the first texel of channel c's weights in the [G, CI, KH, KW, MP] layout (not GROUPED).
void fetch_weights(int g, int c, int m0, int mg, int wb) {
  if (GROUPED) {
    int NG = (p.MO + TM - 1) / TM * (TM / GM);   // groups of every channel tile
    int base = p.offW + (((g * p.CI + c) * NG + (m0 + mg) / GM) * p.MP >> 2);
    [[unroll]] for (int u = 0; u < (KH * KW * GM + 3) / 4; ++u) {
      vec4 w4 = texelFetch(Wt, base + u);
      [[unroll]] for (int e = 0; e < 4; ++e)
        if (4 * u + e < KH * KW * GM) wa[(4 * u + e) / GM][(4 * u + e) % GM] = w4[e];
    }
  } else {   // (mg = 0: wa holds whole texels)
    [[unroll]] for (int tap = 0; tap < KH * KW; ++tap)
      [[unroll]] for (int i = 0; i < GM; i += 4) {
        vec4 w4 = texelFetch(Wt, p.offW + wb + (tap * p.MP + i >> 2));
        wa[tap][i] = w4.x; wa[tap][i + 1] = w4.y; wa[tap][i + 2] = w4.z; wa[tap][i + 3] = w4.w;
      }
  }
}

// Bias, ReLU, pooling and the stores of the group's accumulators: output channels m .. m + GM - 1
// of image n, block at (oh0, ow0).
void epilogue(int m_first, int n, int g, int oh0, int ow0) {
  int OHW = p.OH * p.OW;
  if (POOL == 1) {
    int POH = p.OH / 2, POW = p.OW / 2;
    int pb = (n * p.G + g) * p.MO * POH * POW + ow0 / 2;
    [[unroll]] for (int i = 0; i < GM; ++i) {
      int m = m_first + i;
      if (m >= p.MO) break;
      float bm = BIAS == 1 ? src[g * p.MO + m] : 0.0;
      [[unroll]] for (int u = 0; u < TR / 2; ++u) {
        int pr = oh0 / 2 + u;
        if (pr >= POH) break;
        const int JS = VO == 2 ? 2 : 1;   // windows per store
        [[unroll]] for (int j = 0; j < TW / 2; j += JS) {
          if (ow0 / 2 + j >= POW) break;   // (VO 2: POW and ow0 / 2 + j even, so both windows are in)
          float best[JS];
          int bi[JS];
          [[unroll]] for (int e = 0; e < JS; ++e) {
            best[e] = 0.0;
            bi[e] = -1;
            [[unroll]] for (int a = 0; a < 2; ++a)
              [[unroll]] for (int b = 0; b < 2; ++b) {
                float v = max(acc[i][2 * u + a][2 * (j + e) + b] + bm, 0.0);
                if (v > best[e] || bi[e] < 0) { best[e] = v; bi[e] = (oh0 + 2 * u + a) * p.OW + ow0 + 2 * (j + e) + b; }
              }
            bi[e] = best[e] > 0.0 ? bi[e] : -1;
          }
          int at = pb + (m * POH + pr) * POW + j;
          if (VO == 2) {
            o2[at >> 1] = vec2(best[0], best[JS - 1]);
            idxo2[at >> 1] = ivec2(bi[0], bi[JS - 1]);
          } else {
            o[at] = best[0];
            idxo[at] = bi[0];
          }
        }
      }
    }
    return;
  }
  int yb = ((n * p.G + g) * p.MO) * OHW + oh0 * p.OW + ow0;
  [[unroll]] for (int i = 0; i < GM; ++i) {
    int m = m_first + i;
    if (m >= p.MO) break;
    float bm = BIAS == 1 ? src[g * p.MO + m] : 0.0;
    [[unroll]] for (int r = 0; r < TR; ++r) {
      if (oh0 + r >= p.OH) break;
      int row = yb + m * OHW + r * p.OW;
      if (VO == 1) {   // OW % 4 == 0 and ow0 % 4 == 0: whole quads inside the row
        [[unroll]] for (int q = 0; q < TW; q += 4) {
          if (ow0 + q >= p.OW) break;
          vec4 v = vec4(acc[i][r][q], acc[i][r][q + 1], acc[i][r][q + 2], acc[i][r][q + 3]) + bm;
          o4[(row + q) >> 2] = ACT == 1 ? max(v, vec4(0.0)) : v;
        }
      } else if (VO == 2) {   // OW and ow0 even: whole pairs inside the row
        [[unroll]] for (int q = 0; q < TW; q += 2) {
          if (ow0 + q >= p.OW) break;
          vec2 v = vec2(acc[i][r][q], acc[i][r][q + 1]) + bm;
          o2[(row + q) >> 1] = ACT == 1 ? max(v, vec2(0.0)) : v;
        }
      } else {
        [[unroll]] for (int q = 0; q < TW; ++q) {
          if (ow0 + q >= p.OW) break;
          float v = acc[i][r][q] + bm;
          o[row + q] = ACT == 1 ? max(v, 0.0) : v;
        }
      }
    }
  }
}

// Every tap of one input channel (patch pt[ci], weights wa) into the group's accumulators.
// The TW accumulators of a block row take each tap in lockstep: TW independent add chains side by
// side instead of one chain of KH*KW dependent adds at a time, which left the out-of-order window
// with one or two chains in flight (llvmpipe evaluates fma() as a multiply and a dependent add).
// Every accumulator still sums its taps in the same order, so the results are bit-identical. 7-20 %
// faster per layer on LeNet-5 (docs/PERFORMANCE.md, 2026-12-07); lockstep over the TR rows too
// (2*TW chains) spilled and was 10-25 % slower.
void taps(int ci) {
  [[unroll]] for (int i = 0; i < GM; ++i)
    [[unroll]] for (int r = 0; r < TR; ++r)
      [[unroll]] for (int kh = 0; kh < KH; ++kh)
        [[unroll]] for (int kw = 0; kw < KW; ++kw)
          [[unroll]] for (int q = 0; q < TW; ++q)
            if (col_in(q * SW + kw * DW) && row_in(r * SH + kh * DH))
              acc[i][r][q] = fma(wa[kh * KW + kw][i], pt[ci][r * SH + kh * DH][q * SW + kw * DW], acc[i][r][q]);
}

// Channels mg .. mg + GM - 1 of the block's tile (first channel m0): every input channel's taps,
// then the epilogue. xb: the block's input (patch origin of channel 0, or the pooled plane's).
void group(int mg, int m0, int n, int g, int oh0, int ow0, int ih0, int iw0, int xb) {
  [[unroll]] for (int i = 0; i < GM; ++i)
    [[unroll]] for (int r = 0; r < TR; ++r)
      [[unroll]] for (int q = 0; q < TW; ++q) acc[i][r][q] = 0.0;
  int wb = (g * p.CI * KH * KW * p.MP + m0) >> 2;   // texels; MP and m0 are multiples of 4
  if (CIK > 0) {   // every channel's patch in pt already
    [[unroll]] for (int c = 0; c < CIK; ++c) {
      fetch_weights(g, c, m0, mg, wb);
      taps(c);
      wb += (KH * KW * p.MP) >> 2;
    }
  } else {
    for (int c = 0; c < p.CI; ++c) {
      if (!HOIST_P) fetch_patch(0, 0, xb, ih0, iw0);   // (one input channel: fetched by the caller)
      // Every weight of this input channel first, then the FMAs: a texel fetch is a function call
      // in llvmpipe's JIT code that clobbers every vector register, so fetches between the FMAs
      // (one weight texel per tap, as this kernel did until 2026-12-05) made every accumulator
      // and patch value go to the stack and back once per tap (docs/PERFORMANCE.md: LeNet-5's
      // convolutions 7-21 % faster this way).
      if (!HOIST_W) fetch_weights(g, c, m0, mg, wb);
      taps(0);
      xb += UNPOOL == 1 ? (p.H / 2) * (p.W / 2) : p.H * p.W;
      wb += (KH * KW * p.MP) >> 2;
    }
  }
  epilogue(m0 + mg, n, g, oh0, ow0);
}

void main() {
  if (MODE == 1) {
    prepare();
    return;
  }
  int HW = p.H * p.W;
  int total = ROLL ? p.tiles_c * p.segs * p.N : p.tiles_c * p.tiles_r * p.N * p.tiles_m * p.G;
  if (HOIST_W) fetch_weights(0, 0, 0, 0, 0);
  int stride = int(gl_NumWorkGroups.x * gl_WorkGroupSize.x);
  for (int t = int(gl_GlobalInvocationID.x); t < total; t += stride) {
    // Column tiles fastest, group and channel tile slowest: neighbouring lanes share weights.
    int tc = t % p.tiles_c;
    int rest = t / p.tiles_c;
    int tr_begin, tr_end, n, mt = 0, g = 0;
    if (ROLL) {   // a segment of block rows
      int sg = rest % p.segs;
      n = rest / p.segs;
      tr_begin = sg * p.seg;
      tr_end = min(tr_begin + p.seg, p.tiles_r);
    } else {
      tr_begin = FIXR == 1 ? CT : rest % p.tiles_r + p.tr0;
      tr_end = tr_begin + 1;
      rest /= p.tiles_r;
      n = rest % p.N;
      rest /= p.N;
      mt = rest % p.tiles_m;
      g = rest / p.tiles_m;
    }
    int m0 = mt * TM, ow0 = tc * TW;
    int iw0 = ow0 * SW - p.pw;
    [[unroll]] for (int q = 0; q < PC; ++q) cok[q] = iw0 + q >= 0 && iw0 + q < p.W;
    if (ROLL) {   // the segment's first block: the rows the loop below takes from the block above
      int ih0 = tr_begin * TR * SH - p.ph;
      int xb = n * HW + ih0 * p.W + iw0;   // (one group, one input channel)
      [[unroll]] for (int r = 0; r < KEEPR; ++r)
        [[unroll]] for (int q = 0; q < PC; q += PAIRS + 1) {
          bool ok = ih0 + r >= 0 && ih0 + r < p.H && cok[q];
          if (PAIRS == 1) {
            vec2 v = texelFetch(X, p.offX + (ok ? (xb + r * p.W + q) >> 1 : 0)).xy;
            pt[0][r][q] = ok ? v.x : 0.0;
            pt[0][r][q + 1] = ok ? v.y : 0.0;
          } else {
            float v = texelFetch(X, p.offX + (ok ? xb + r * p.W + q : 0)).x;
            pt[0][r][q] = ok ? v : 0.0;
          }
        }
    }
    for (int tr = tr_begin; tr < tr_end; ++tr) {
      int oh0 = tr * TR;
      int ih0 = oh0 * SH - p.ph;
      [[unroll]] for (int r = 0; r < PR; ++r) rok[r] = ih0 + r >= 0 && ih0 + r < p.H;
      int xb = UNPOOL == 1 ? (n * p.G + g) * p.CI * (p.H / 2) * (p.W / 2) : (n * p.G + g) * p.CI * HW + ih0 * p.W + iw0;
      if (ONE_W == 1) fetch_patch(0, ROLL && KEEPR > 0 ? KEEPR : 0, xb, ih0, iw0);   // once for every group
      else if (CIK > 0)
        [[unroll]] for (int c = 0; c < CIK; ++c) fetch_patch(c, 0, xb + c * (UNPOOL == 1 ? (p.H / 2) * (p.W / 2) : HW), ih0, iw0);
      if (GM == TM) group(0, m0, n, g, oh0, ow0, ih0, iw0, xb);
      else
        [[dont_unroll]] for (int mg = 0; mg < TM; mg += GM) group(mg, m0, n, g, oh0, ow0, ih0, iw0, xb);
      if (ROLL)   // the next block row's first rows
        [[unroll]] for (int r = 0; r < KEEPR; ++r)
          [[unroll]] for (int q = 0; q < PC; ++q) pt[0][r][q] = pt[0][r + TR * SH][q];
    }   // block rows
  }
}
