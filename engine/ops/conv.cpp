// Conv2d and ConvTranspose2d, three paths (conv_path() below picks one per device):
// - direct (CPU Vulkan devices, lavapipe): conv_direct.comp, a register-blocked direct convolution
//   for the forward and the stride-1 data gradient of kernels up to 5x5 (the data gradient is the
//   convolution of dy with mirrored, transposed weights);
// - implicit (CPU devices, the rest): conv_implicit.comp, implicit GEMMs whose column matrix is
//   fetched from the image, never stored (forward, weight gradient, stride-1 data gradient; the
//   data gradient of strided convolutions goes through col2im);
// - gemm (GPUs and the CPU reference backend): im2col + GEMM, chunked over the batch so that no
//   column buffer exceeds the device's binding limit (maxStorageBufferRange) or 64 MiB. Per chunk
//   of nb images:
//     cols [C*KH*KW, nb*OH*OW] = im2col(x)          Y' [OC, nb*OH*OW] = W [OC, C*KH*KW] @ cols
//   then Y' is permuted into y [nb, OC, OH, OW]. Groups are a batched GEMM over the group index.
//   Backward: dW += dY' @ cols^T, dcols = W^T @ dY', dx = col2im(dcols).
// Every forward path adds the bias and applies a fused ReLU (Epilogue::relu) in its epilogue.
// ConvTranspose2d is the adjoint: its forward is conv's data-backward and vice versa.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <functional>
#include <initializer_list>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/gemm.h"
#include "engine/ops/launch.h"
#include "engine/ops/pool.h"
#include "engine/reference/reference.h"

namespace vkwb {
using namespace detail;

namespace {

struct Geometry {
  int N, C, H, W;          // the "image" side (conv input / transposed-conv output)
  int OC, OH, OW;          // the "column" side (conv output / transposed-conv input)
  int KH, KW, groups;
  Conv2dOptions o;
  int64_t kk() const { return int64_t(KH) * KW; }
  int64_t ohw() const { return int64_t(OH) * OW; }
};

int chunk_images(const Device& dev, const Geometry& g) {
  uint64_t limit = std::min<uint64_t>(64ull << 20, dev.info().max_storage_buffer_range);
  if (const char* e = std::getenv("VKWB_CONV_CHUNK_BYTES")) limit = std::strtoull(e, nullptr, 10);   // tests: force many chunks
  uint64_t per_image = uint64_t(g.C) * g.kk() * g.ohw() * 4;
  if (per_image > limit)
    throw Error("conv2d: one image's column buffer needs " + std::to_string(per_image >> 20) +
                " MiB, more than the device's binding limit; use smaller images or fewer channels");
  return int(std::max<uint64_t>(1, std::min<uint64_t>(uint64_t(g.N), limit / per_image)));
}

Im2colP im2col_params(const Geometry& g, int n0, int nb) {
  return {g.C, g.H, g.W, g.KH, g.KW, g.OH, g.OW, g.o.stride_h, g.o.stride_w, g.o.pad_h, g.o.pad_w, g.o.dil_h, g.o.dil_w, n0, nb};
}

Tensor im2col(const Tensor& x, const Geometry& g, int n0, int nb) {
  Device& dev = x.device();
  Tensor cols = Tensor::empty({g.C * g.kk(), nb * g.ohw()}, dev, x.dtype());
  Im2colP p = im2col_params(g, n0, nb);
  if (dev.is_cpu()) {
    with_float_type(x.dtype(), [&](auto t) {
      using T = decltype(t);
      ref::im2col<T>(p, x.data<T>(), cols.data<T>());
    });
  } else {
    KernelArg in = read_arg(x, p.in_texel);
    launch(dev, in.is_texel ? ShaderId::im2col_texel : ShaderId::im2col, {i32(local_1d(dev))}, p, {in, cols},
           groups_1d(dev, g.C * g.kk() * nb * g.OH));
  }
  return cols;
}

void col2im(const Tensor& cols, Tensor& dx, const Geometry& g, int n0, int nb) {
  Device& dev = dx.device();
  Im2colP p = im2col_params(g, n0, nb);
  if (dev.is_cpu()) {
    with_float_type(dx.dtype(), [&](auto t) {
      using T = decltype(t);
      ref::col2im<T>(false, p, cols.data<T>(), dx.data<T>());
    });
  } else {
    KernelArg in = read_arg(cols, p.in_texel);
    int unit = g.o.stride_h == 1 && g.o.stride_w == 1 ? 1 : 0;
    launch(dev, in.is_texel ? ShaderId::col2im_texel : ShaderId::col2im, {i32(local_1d(dev)), unit}, p, {in, dx},
           groups_1d(dev, int64_t(g.C) * nb * g.H));
  }
}

// [nb, ch, pix] (images) <-> [ch, nb*pix] (columns), written into / read from chunk n0 of a
// full [N, ch, pix] tensor.
void images_to_rows(const Tensor& img, int n0, int nb, int ch, int64_t pix, Tensor& rows) {
  int64_t ss[3] = {ch * pix, pix, 1};          // coordinates (n, c, p) in img
  int64_t ds[3] = {pix, int64_t(nb) * pix, 1}; // ... in rows [c][n*pix + p]
  strided_copy(img, ss, int64_t(n0) * ch * pix, rows, ds, 0, Shape{nb, ch, pix});
}
void rows_to_images(const Tensor& rows, int n0, int nb, int ch, int64_t pix, Tensor& img) {
  int64_t ss[3] = {pix, int64_t(nb) * pix, 1};
  int64_t ds[3] = {ch * pix, pix, 1};
  strided_copy(rows, ss, 0, img, ds, int64_t(n0) * ch * pix, Shape{nb, ch, pix});
}

// C[g] (+)= op(A[g]) op(B[g]) over the groups; A, B, C are row-major 2-D per group.
void grouped_gemm(const Tensor& A, const Tensor& B, Tensor& C, int groups, int M, int N, int K, bool ta, bool tb,
                  bool accumulate, const Tensor* bias, bool relu = false) {
  GemmCall g;
  g.ta = ta;
  g.tb = tb;
  g.M = M;
  g.N = N;
  g.K = K;
  g.batch = groups;
  g.lda = ta ? M : K;
  g.ldb = tb ? K : N;
  g.ldc = N;
  g.sa = int64_t(M) * K;
  g.sb = int64_t(K) * N;
  g.sc = int64_t(M) * N;
  g.beta = accumulate ? 1.f : 0.f;
  g.bias_mode = bias ? 2 : 0;
  g.relu = relu;
  gemm_into(g, A, B, C, bias);
}

// Which convolution path the device takes. CPU-type Vulkan devices with texel buffers: "direct"
// (conv_direct.comp for the forward and the stride-1 data gradient, kernels up to 5x5;
// conv_implicit.comp for the rest), else "gemm" (im2col + GEMM). VKWB_CONV=direct|implicit|gemm
// overrides (the tests run all three).
enum class ConvPath { gemm, implicit, direct };
ConvPath conv_path(const Device& dev) {
  if (dev.is_cpu() || !dev.info().texel_buffers) return ConvPath::gemm;
  const char* e = std::getenv("VKWB_CONV");
  if (e && std::strcmp(e, "gemm") == 0) return ConvPath::gemm;
  if (e && std::strcmp(e, "implicit") == 0) return ConvPath::implicit;
  if (e && std::strcmp(e, "direct") == 0) return ConvPath::direct;
  if (const char* t = std::getenv("VKWB_TEXEL"); t && std::strcmp(t, "0") == 0) return ConvPath::gemm;
  return dev.info().type == "cpu" ? ConvPath::direct : ConvPath::gemm;
}
bool use_implicit(const Device& dev) { return conv_path(dev) != ConvPath::gemm; }

// The tile width from `widths` (in order of preference on ties) that covers `extent` columns at
// the least cost, a tile costing its width plus `setup` columns' worth; widths above max_width
// are skipped (the first width is always allowed).
int cheapest_width(int64_t extent, std::initializer_list<int> widths, int setup, int max_width = 1 << 30) {
  int pick = *widths.begin();
  int64_t best = -1;
  for (int c : widths) {
    if (c > max_width && c != pick) continue;
    int64_t cost = (extent + c - 1) / c * int64_t(c + setup);
    if (best < 0 || cost < best) best = cost, pick = c;
  }
  return pick;
}

// The direct kernel unrolls the taps and holds the input patch in registers: kernels up to 5x5.
bool direct_fits(const Device& dev, int KH, int KW, int dh, int dw) {
  return conv_path(dev) == ConvPath::direct && KH * KW <= 25 && (KH - 1) * dh <= 8 && (KW - 1) * dw <= 8;
}

// Channel groups for the direct kernel (the shader's MR; 0: none): the block's TM channels taken
// MR at a time in a loop that is not unrolled, each group a compact body with its own
// accumulators; and whether every input channel's patch is fetched once per block, before the
// groups (the shader's CIK: the input's channel count; 0: per group and channel). An unrolled
// block is straight-line code of TM*TR*TW*KH*KW multiply-adds per input channel: LeNet-5's first
// layer (2x14x6, 5x5 taps) ~96 KiB per block, three times the L1 instruction cache, its second
// (2x10x16) ~190 KiB. Measured per dispatch on one thread (2026-12-07, docs/PERFORMANCE.md):
// - one input channel (the patch is fetched once per block anyway): conv1 one channel at a time
//   (28 accumulators) 330-380 vs 560 us, two at a time 540-560, three 680-850; a 16-channel 3x3
//   first layer, small blocks anyway, got slower (1,120-1,300 vs 935-1,090);
// - conv2's forward (6 input channels, 2x10x16): every patch up front and one channel at a time
//   520-596 vs 591-677 us (two at a time 569, four 678; with its patch fetched per group any
//   grouping was slower: 8 615 vs 616, 4 639, 2 648-699, 1 975);
// - conv2's data gradient (16 input channels, too many patches to hold; 2x14x6, 50 of 70 column
//   taps): its patch fetched per group, two channels at a time 656-694 vs 693-751 us, three
//   709-737, one 864.
// The 3x3 layers (the DQN net) keep their blocks. (The 28-accumulator limit suits CPUs with 32
// vector registers, AVX-512, as on every host measured so far; an AVX2-only CPU has 16.)
struct ChannelGroups { int mr = 0, cik = 0; };
ChannelGroups channel_groups(int CI, int tm, int tr, int tw, int KH, int KW, int sh, int sw, int dh, int dw, int W,
                             int pw, bool fullw, bool one_w, bool unpool) {
  ChannelGroups cg;
  // Multiply-adds per channel, block and input channel: FULLW leaves the padding's columns out.
  int cols = 0;
  for (int q = 0; q < tw; ++q)
    for (int kw = 0; kw < KW; ++kw) {
      int c = q * sw + kw * dw;
      cols += !fullw || (c - pw >= 0 && c - pw < W);
    }
  const int per_channel = tr * KH * cols;
  const int prows = (tr - 1) * sh + (KH - 1) * dh + 1, pcols = (tw - 1) * sw + (KW - 1) * dw + 1;
  const bool hold = !one_w && !unpool && CI * prows * pcols <= 1024;   // every patch in registers / on the stack
  if (tm * per_channel > 2048) {
    for (int d = tm - 1; d >= 1 && cg.mr == 0; --d) {
      if (tm % d) continue;
      if ((one_w && !unpool) || hold) {
        if (KH * KW >= 25 && d * tr * tw <= 28) cg.mr = d;
      } else if (!one_w && tm / d <= 3 && d * per_channel <= 1024) {
        cg.mr = d;
      }
    }
    if (hold && cg.mr > 0) cg.cik = CI;
  }
  if (const char* e = std::getenv("VKWB_CONV_DIRECT_MR")) cg.mr = std::atoi(e);   // tuning knob (0: off)
  if (cg.mr > 0 && (tm % cg.mr != 0 || cg.mr >= tm)) cg.mr = 0;
  if (const char* e = std::getenv("VKWB_CONV_DIRECT_CIK"))   // tuning knob: 1 on (where it can be), 0 off
    cg.cik = *e == '1' && !one_w && CI * prows * pcols <= 1024 && CI <= 64 ? CI : 0;
  return cg;
}

// Whether the direct kernels fetch input x's patch two columns per texel (RG32F; the shaders'
// PAIRS): unit column stride and dilation, an even width, left padding and block width, an odd
// kernel width, so every pair starts on an even column and lies wholly inside or outside the
// input. llvmpipe pays per fetch and lane, not per float: LeNet-5's conv2 forward -11 % and
// weight gradient -9 % per dispatch (docs/PERFORMANCE.md, 2026-12-08). VKWB_CONV_PAIRS=0 turns it off.
bool patch_pairs(const Tensor& x, int sw, int dw, int W, int pw, int tw, int KW) {
  const char* e = std::getenv("VKWB_CONV_PAIRS");
  if (e && std::string(e) == "0") return false;
  return sw == 1 && dw == 1 && W % 2 == 0 && pw % 2 == 0 && tw % 2 == 0 && KW % 2 == 1 && texel_ok(x, Texel::f32x2);
}

// y [N, G*MO, OH, OW] = the stride (sh, sw) convolution of x [N, G*CI, H, W] with padding (ph, pw)
// (either sign) and dilation (dh, dw). flip == false: w is a forward weight [G*MO, CI, KH, KW];
// flip == true: w is [G*CI, MO, KH, KW] and its taps are mirrored (a data gradient, see the shader).
// unpool_idx: x is a pooled gradient [N, G*CI, H/2, W/2] scattered through these 2x2 window indices
// (conv_direct.comp, UNPOOL; unit strides and dilations, ph and pw even).
void launch_direct(const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y, int N, int CI, int H, int W,
                   int MO, int OH, int OW, int KH, int KW, int sh, int sw, int dh, int dw, int ph, int pw, int G,
                   bool flip, bool relu = false, Tensor* pool_idx = nullptr, const Tensor* unpool_idx = nullptr) {
  Device& dev = y.device();
  // Blocks of 2 rows x TW columns x TM channels, TM = all channels up to 16 or 16, 8, 4, by a cost
  // model fitted to per-layer measurements (one llvmpipe thread, 2026-12-05, docs/PERFORMANCE.md):
  // per block TM*TR*TW*KH*KW FMAs plus 10 FMAs' worth per texel fetch (the patch, half of it when
  // unpooling; the weights, none when ONE_W hoists them), at most 192 accumulators (spills beyond;
  // 320 for a single channel tile of a 5x5 kernel, below), columns past OW wasted. Its picks:
  // LeNet-5 conv1 (OW 28, 6 ch) 2x14x6, conv2 (OW 10, 16 ch) 2x10x8 (2x10x16 since 2026-12-07),
  // conv2's data gradient (OW 14, 6 ch) 2x14x6, measured 24-32 % faster than the 2x8x6, 2x6x16
  // and 2x8x6 of the rule before (TW from {4, 6, 8}, TM = min(16, MO)).
  const bool even = pool_idx || unpool_idx;   // 2x2 windows: even blocks
  int tr = std::min(OH, 2), tm = std::min(16, MO), tw = std::min(OW, 4);
  {
    double best = -1;
    std::vector<int> tms;
    if (MO <= 16) tms.push_back(MO);
    for (int t : {16, 8, 4})
      if (t < MO) tms.push_back(t);
    // With 5x5 kernels, one tile of every channel may hold up to 320 accumulators: it fetches each
    // patch once instead of once per tile, and each accumulator's trip to the stack and back per
    // input channel is shared by 25 FMAs. LeNet-5's conv2 forward, 2x10x16 against 2x10x8, per
    // dispatch on one thread 558-622 vs 594-736 us over 4 alternated rounds. With 3x3 (9 FMAs per
    // trip) it lost: the DQN net's 2x8x16 cost `bench dqn` 869 vs 954 updates/s (2026-12-07,
    // docs/PERFORMANCE.md).
    static const int one_tile_cap = [] {
      const char* e = std::getenv("VKWB_CONV_DIRECT_CAP1");   // tuning knob (192: the general cap)
      return e ? std::clamp(std::atoi(e), 16, 1024) : 320;
    }();
    for (int cm : tms) {
      int tiles_m = (MO + cm - 1) / cm;
      bool hoisted = CI == 1 && tiles_m == 1 && G == 1;
      const int cap = tiles_m == 1 && KH * KW >= 25 ? std::max(192, one_tile_cap) : 192;
      for (int cw = even ? 2 : 1; cw <= 16 && cm * tr * cw <= cap; cw += even ? 2 : 1) {
        if (cw > OW && cw > (even ? 2 : 1)) break;
        int prows = (tr - 1) * sh + (KH - 1) * dh + 1, pcols = (cw - 1) * sw + (KW - 1) * dw + 1;
        double fetches = prows * pcols * (unpool_idx ? 0.5 : 1.0) + (hoisted ? 0 : KH * KW * ((cm + 3) / 4));
        double cost = double(tiles_m) * ((OW + cw - 1) / cw) * (double(cm) * tr * cw * KH * KW + 10 * fetches);
        if (best < 0 || cost < best) best = cost, tm = cm, tw = cw;
      }
    }
  }
  if (const char* e = std::getenv("VKWB_CONV_DIRECT_TM")) {   // tuning knob: channels per block
    tm = std::atoi(e);
    if (tm < 4 || tm > 32 || tm % 4) throw Error(std::string("VKWB_CONV_DIRECT_TM=") + e + ": expected a multiple of 4 from 4 to 32");
  }
  int mp = (MO + tm - 1) / tm * tm;
  mp = (mp + 3) / 4 * 4;   // texels of four channels
  if (const char* e = std::getenv("VKWB_CONV_DIRECT_TILE")) {   // tuning knob: TRxTW
    if (std::sscanf(e, "%dx%d", &tr, &tw) != 2 || tr < 1 || tw < 1 || tr > 8 || tw > 32)
      throw Error(std::string("VKWB_CONV_DIRECT_TILE=") + e + ": expected TRxTW, rows 1..8, columns 1..32");
  }
  // Pooling in the epilogue (pool_idx; y is then the pooled output): 2x2 windows need blocks of
  // an even height and width.
  // An unpooled input likewise (the patch then starts on a window: ph, pw even).
  if (pool_idx || unpool_idx) tr = std::max(2, tr / 2 * 2), tw = std::max(2, tw / 2 * 2);
  // (one input channel, one channel tile, one group: the shader's ONE_W)
  const bool one_w = CI == 1 && G == 1 && (MO + tm - 1) / tm == 1;
  const bool fullw = (OW + tw - 1) / tw == 1 && pw > 0;   // (the shader's FULLW, below)
  const ChannelGroups cg = channel_groups(CI, tm, tr, tw, KH, KW, sh, sw, dh, dw, W, pw, fullw, one_w, unpool_idx != nullptr);
  const int mr = cg.mr;
  // The prepared weights get at least 16 KiB of their own. Where the caching allocator put a small
  // (e.g. LeNet-5's 800-byte) buffer mattered by up to 7x for the convolution reading it, on one
  // llvmpipe thread as on two, whatever the buffer held: LeNet-5 on Fashion-MNIST fell from 3,300
  // to 2,300 img/s over 300 steps and inference from 19,000 to 2,700 img/s, and with a 16 KiB
  // buffer it stays at 3,600 / 19,000 (docs/PERFORMANCE.md). The cause is not pinned down (no CPU
  // counters on this VM); 4 KiB aliasing between these gathers and the JIT code's spilled
  // accumulators on the stack fits what was seen.
  int64_t wt_rows = int64_t(G) * CI * KH * KW;
  if (mr > 0) {   // GROUPED: [G, CI, tiles * tm / mr, KH*KW*mr rounded up to 4]
    mp = (KH * KW * mr + 3) / 4 * 4;
    wt_rows = int64_t(G) * CI * ((MO + tm - 1) / tm) * (tm / mr);
  }
  int64_t wt_n = wt_rows * mp;
  Tensor wt = Tensor::empty({std::max<int64_t>(wt_n, 4096)}, dev, x.dtype());
  DirectConvP p{N, CI, H, W, MO, mp, OH, OW, ph, pw, G, 0, 0, 0, 0, 0, 0, 1, 1};
  const bool pairs = !unpool_idx && patch_pairs(x, sw, dw, W, pw, tw, KW);
  const Texel xk = pairs ? Texel::f32x2 : Texel::f32;
  p.offX = texel_index(x);
  if (unpool_idx) p.offIdx = texel_index(*unpool_idx, Texel::u32);
  // The preparation reads w through an R32F view (every caller has checked texel_ok(w)) and stores
  // wt four floats at a time where it can: LeNet-5's three preparations 42 -> 20 us per replica
  // step (docs/PERFORMANCE.md, 2026-12-08).
  const bool wt4 = vec4_ok(wt);
  p.offX = texel_index(w);
  std::vector<int32_t> prep = {i32(local_1d(dev)), 1, tm, 1, 1, KH, KW, 1, 1, 1, 1, 0, wt4 ? 1 : 0, flip ? 1 : 0,
                               0, 0, 0, 0, 0, 1, 0, mr};
  launch(dev, ShaderId::conv_direct, prep, p, {texel(w), texel(x), wt, w, wt, texel(x, Texel::u32)},
         groups_1d(dev, uint64_t(wt_rows)),
         1u, 1u, profile_label(flip ? "conv_direct weights dX" : "conv_direct weights", std::to_string(wt_n)));
  p.offW = texel_index(wt, Texel::f32x4);
  p.offX = texel_index(x, xk);
  p.tiles_r = (OH + tr - 1) / tr;
  p.tiles_c = (OW + tw - 1) / tw;
  p.tiles_m = (MO + tm - 1) / tm;   // (mp may round past the last tile: whole texels)
  int64_t tiles = int64_t(p.tiles_r) * p.tiles_c * N * p.tiles_m * G;
  // One input channel, one channel tile, one group: the weights are fetched once per invocation
  // (per block and channel group with MR), and each invocation takes ~8 blocks (at least 256
  // invocations, for the SIMD lanes of the cores).
  int64_t lanes = one_w ? std::min(tiles, std::max<int64_t>(256, tiles / 8)) : tiles;
  if (one_w && !unpool_idx) {
    // Each invocation takes a segment of `seg` block rows of one block column, the patch rolling
    // down it (only TR*SH new input rows per block; the shader's ROLL): the fewest segments that
    // still give ~128 invocations. LeNet-5's first layer at 32 images: 2 segments of 7 block
    // rows per column, 578 -> ~500 us per dispatch on one thread (docs/PERFORMANCE.md).
    int64_t columns = int64_t(p.tiles_c) * N;
    int64_t per_column = std::clamp<int64_t>((128 + columns - 1) / columns, 1, p.tiles_r);
    p.seg = int32_t((p.tiles_r + per_column - 1) / per_column);
    p.segs = (p.tiles_r + p.seg - 1) / p.seg;
    lanes = columns * p.segs;
  }
  // Output stores of four or two columns (pooled: two windows) where the rows and blocks allow.
  int vo = 0;
  if (pool_idx) vo = (OW / 2) % 2 == 0 && tw % 4 == 0 && vec4_ok(y) && vec4_ok(*pool_idx) ? 2 : 0;
  else if (vec4_ok(y)) vo = OW % 4 == 0 && tw % 4 == 0 ? 1 : OW % 2 == 0 && tw % 2 == 0 ? 2 : 0;
  // Block rows at the top and bottom edges with taps in the padding, when one block spans the
  // width (FULLW) and not with ROLL: each such row a dispatch of its own, its padding rows compiled
  // out (FIXR), the rows between one dispatch. Only where that leaves out >= 10 % of the row taps
  // (each edge row is a pipeline of its own), at most 4 edge rows. LeNet-5's conv2 data gradient:
  // 50 of 70 row taps, 4 edge rows of 7, ~680 -> ~480 us per dispatch on one thread (docs/PERFORMANCE.md,
  // 2026-12-07 16:50-18:05).
  const int prows = (tr - 1) * sh + (KH - 1) * dh + 1;
  auto edge_row = [&](int t) { int ih0 = t * tr * sh - ph; return ih0 < 0 || ih0 + prows > H; };
  bool fixr = false;
  if (fullw && !(one_w && !unpool_idx)) {
    int64_t all = 0, kept = 0;
    int edges = 0;
    for (int t = 0; t < p.tiles_r; ++t) {
      edges += edge_row(t);
      for (int r = 0; r < tr && t * tr + r < OH; ++r)
        for (int kh = 0; kh < KH; ++kh) {
          int ih = t * tr * sh - ph + r * sh + kh * dh;
          ++all, kept += ih >= 0 && ih < H;
        }
    }
    fixr = edges > 0 && edges <= 4 && kept <= 0.9 * double(all);
    if (const char* e = std::getenv("VKWB_CONV_DIRECT_FIXR"))   // tuning knob: 1 on (up to 8 edge rows), 0 off
      fixr = *e == '1' && edges > 0 && edges <= 8;
  }
  std::vector<int32_t> spec = {i32(local_1d(dev)), 0, tm, tr, tw, KH, KW, sh, sw, dh, dw, bias ? 1 : 0, vo, 0, relu ? 1 : 0,
                               pool_idx ? 1 : 0, unpool_idx ? 1 : 0, one_w ? 1 : 0};
  // One block across the output's width: the padding's columns are compiled out (FULLW). Only
  // when there is padding (else nothing is left out, and each width would be a pipeline of its own).
  spec.insert(spec.end(), {fullw ? 1 : 0, fullw ? W : 1, fullw ? pw : 0});
  spec.insert(spec.end(), {mr, cg.cik, 0, fixr ? H : 1, fixr ? ph : 0, 0, pairs ? 1 : 0});
  const int kind = flip ? (unpool_idx ? 0 : 1) : pool_idx ? 2 : 3;
  static const char* const names[2][4] = {{"conv_direct dX unpool", "conv_direct dX", "conv_direct fwd+pool", "conv_direct fwd"},
                                          {"conv_direct dX unpool edge", "conv_direct dX edge", "conv_direct fwd+pool edge",
                                           "conv_direct fwd edge"}};
  const std::string shape = std::to_string(G * CI) + ">" + std::to_string(G * MO) + "@" + std::to_string(OH) + "x" +
                            std::to_string(OW) + " " + std::to_string(tr) + "x" + std::to_string(tw) + "x" + std::to_string(tm);
  // Block rows [t0, t0 + rows) in one dispatch; edge >= 0: the one edge row `edge` (FIXR).
  const int tiles_r = p.tiles_r;
  auto dispatch = [&](int t0, int rows, int edge) {
    p.tr0 = t0;
    p.tiles_r = rows;
    int64_t n_lanes = rows == tiles_r ? lanes : int64_t(rows) * p.tiles_c * N * p.tiles_m * G;
    uint32_t local = local_1d(dev);
    while (local > 8 && n_lanes < int64_t(local) * 8) local /= 2;
    uint32_t groups = uint32_t(std::clamp<int64_t>((n_lanes + local - 1) / local, 1, max_groups(dev)));
    spec[0] = i32(local);
    spec[23] = edge >= 0 ? 1 : 0;   // FIXR
    spec[26] = edge >= 0 ? edge : 0;   // CT
    launch(dev, ShaderId::conv_direct, spec, p,
           {texel(x, xk), texel(wt, Texel::f32x4), y, bias ? *bias : y, pool_idx ? *pool_idx : y,
            texel(unpool_idx ? *unpool_idx : x, Texel::u32)},
           groups, 1u, 1u, profile_label(names[edge >= 0][kind], shape));
  };
  if (!fixr) {
    dispatch(0, tiles_r, -1);
    return;
  }
  int lo = 0, hi = tiles_r;   // the rows between the edges: [lo, hi)
  while (lo < tiles_r && edge_row(lo)) dispatch(lo, 1, lo), ++lo;
  while (hi > lo && edge_row(hi - 1)) --hi, dispatch(hi, 1, hi);
  if (hi > lo) dispatch(lo, hi - lo, -1);
}

// The weight gradient's two kernels on the direct path, and how the host picks between them.
// conv_direct_dw.comp (an invocation owns TM output channels x one input channel x all taps and
// walks blocks of TR x TW output pixels) fetches TM*TR*TW gradient values and a patch per block;
// the implicit GEMM (conv_implicit.comp mode 1, TM x TN tiles of [OC, C*KH*KW]) fetches TM + TN
// values per output pixel. Measured per dispatch (2026-12-05, docs/PERFORMANCE.md), the direct
// kernel takes LeNet-5's first layer from ~2.0 to ~1.0 ms, ties on its second, and is 1.5-2x slower
// on the DQN net's 3x3 layer (16 channels x 9 taps, 8x8 pixels), also with other blocks. So the
// host estimates useful FMAs per fetch for both and takes the direct kernel only when it does
// clearly better (> 1.3x): 14.0 vs 3.4 (LeNet-5 conv1), 14.9 vs 8.3 (conv2), 5.6 vs 8.0 (DQN).
struct DirectDwPlan { int tm, tiles_m, tr, tw; double fmas_per_fetch; };
// unpool: dy comes as a pooled gradient and 2x2 window indices (conv_direct_dw.comp, UNPOOL), so
// the blocks take whole windows: even sizes.
DirectDwPlan plan_direct_dw(int MO, int OH, int OW, int KH, int KW, int sh, int sw, int dh, int dw, bool unpool) {
  DirectDwPlan q{};
  // Blocks of 2 rows x TW columns, TW from 4..8 wasting the fewest columns at the right edge.
  q.tr = std::min(OH, 2), q.tw = std::min(OW, 4);
  if (OW > 4) q.tw = cheapest_width(OW, {8, 7, 6, 5, 4}, 4);
  if (unpool) {
    // One or two 2x2 windows per block (the kernel's sparse path: per window KH*KW FMAs and the
    // selects of the argmax's patch values; larger blocks measured slower, 2026-12-07): 4x2, 2x4
    // or 2x2, whichever pads the plane least, the larger on a tie. LeNet-5 conv1 4x2, conv2 2x2.
    int64_t best = -1;
    for (auto [r, c] : {std::pair{4, 2}, {2, 4}, {2, 2}}) {
      int64_t area = int64_t((OH + r - 1) / r * r) * ((OW + c - 1) / c * c);
      if (best < 0 || area < best) best = area, q.tr = r, q.tw = c;
    }
  }
  if (const char* e = std::getenv("VKWB_CONV_DW_TILE")) {   // tuning knob: TRxTW
    if (std::sscanf(e, "%dx%d", &q.tr, &q.tw) != 2 || q.tr < 1 || q.tw < 1 || q.tr > 8 || q.tw > 16)
      throw Error(std::string("VKWB_CONV_DW_TILE=") + e + ": expected TRxTW, rows 1..8, columns 1..16");
  }
  if (unpool) q.tr = std::max(2, q.tr / 2 * 2), q.tw = std::max(2, q.tw / 2 * 2);
  // Channels per invocation: at most ~200 accumulators and ~96 gradient values per block (bigger
  // blocks measured slower, whatever they saved in fetches), split evenly over the tiles.
  int cap = std::max(1, std::min(200 / (KH * KW), 96 / (q.tr * q.tw)));
  q.tiles_m = (MO + cap - 1) / cap;
  q.tm = (MO + q.tiles_m - 1) / q.tiles_m;
  if (const char* e = std::getenv("VKWB_CONV_DW_TM")) {   // tuning knob: output channels per invocation
    q.tm = std::atoi(e);
    if (q.tm < 1 || q.tm > 64) throw Error(std::string("VKWB_CONV_DW_TM=") + e + ": expected 1..64");
    q.tiles_m = (MO + q.tm - 1) / q.tm;
  }
  int pr = (q.tr - 1) * sh + (KH - 1) * dh + 1, pc = (q.tw - 1) * sw + (KW - 1) * dw + 1;
  double useful = double(MO) / (q.tiles_m * q.tm) * OW / ((OW + q.tw - 1) / q.tw * q.tw) * OH /
                  ((OH + q.tr - 1) / q.tr * q.tr);
  q.fmas_per_fetch = useful * q.tm * KH * KW * q.tr * q.tw / (q.tm * q.tr * q.tw + pr * pc);
  return q;
}

// The implicit GEMM's register tile for a mode (see launch_implicit), and for its weight gradient
// (mode 1, rows x cols = OCg x Cg*KH*KW) the useful FMAs per fetch.
std::pair<int, int> implicit_tile(int mode, int64_t rows, int64_t cols) {
  int tm = int(std::min<int64_t>(rows, 16)), tn = 32;
  if (mode == 1) tn = cheapest_width(cols, {16, 20, 12}, 8);
  return {tm, tn};
}
double implicit_dw_fmas_per_fetch(int64_t rows, int64_t cols) {
  auto [tm, tn] = implicit_tile(1, rows, cols);
  double useful = double(rows) / ((rows + tm - 1) / tm * tm) * cols / ((cols + tn - 1) / tn * tn);
  return useful * tm * tn / (tm + tn);
}

// dw [G*MO, CI, KH, KW] = the weight gradient of the stride (sh, sw) convolution of x [N, G*CI, H, W]
// with padding (ph, pw) and dilation (dh, dw) whose output gradient is dy [N, G*MO, OH, OW], by
// conv_direct_dw.comp over slices of images; the slices' partial sums are added here.
// db (when given) receives the bias gradient [G*MO]; unpool_idx: dy is a pooled gradient
// [N, G*MO, OH/2, OW/2] scattered through these window indices (the plan made with unpool).
Tensor launch_direct_dw(const Tensor& x, const Tensor& dy, const DirectDwPlan& q, int N, int CI, int H, int W, int MO,
                        int OH, int OW, int KH, int KW, int sh, int sw, int dh, int dw, int ph, int pw, int G,
                        Tensor* db = nullptr, const Tensor* unpool_idx = nullptr) {
  Device& dev = x.device();
  int tm = q.tm, tiles_m = q.tiles_m, tr = q.tr, tw = q.tw;
  // Enough invocations for every core: split the images into slices.
  int64_t per = int64_t(CI) * tiles_m * G;
  // 64 invocations (8 SIMD groups of 8 lanes, several per core) rather than 256: every slice
  // stores a whole weight gradient and the slices' sum reads them all again. LeNet-5's conv2
  // (22 -> 6 slices) per dispatch 1,965-1,990 -> 1,800-1,813 us on one thread, 1,091-1,136 ->
  // 1,010-1,046 on two, the slices' sum 48-54 -> 26 us (docs/PERFORMANCE.md).
  // On a driver running every dispatch on its queue thread (data-parallel replicas) ~24 (three
  // SIMD groups of 8): LeNet-5's conv2 2 slices instead of 6, 459-482 -> 406-411 us per dispatch and
  // its slices' sum 20 -> 14 us (docs/PERFORMANCE.md, 2026-12-08). VKWB_CONV_DW_LANES overrides.
  int lanes_target = dev.driver_threads() == 0 ? 24 : 64;
  if (const char* e = std::getenv("VKWB_CONV_DW_LANES")) lanes_target = std::max(1, std::atoi(e));   // tuning knob
  int want = int(std::clamp<int64_t>((lanes_target + per - 1) / per, 1, N));
  const bool pairs = patch_pairs(x, sw, dw, W, pw, tw, KW);
  const Texel xk = pairs ? Texel::f32x2 : Texel::f32;
  DirectConvWP p{N, CI, H, W, MO, OH, OW, ph, pw, G, texel_index(x, xk), texel_index(dy), tiles_m, 0, (N + want - 1) / want,
                 unpool_idx ? texel_index(*unpool_idx, Texel::u32) : 0};
  p.slices = (N + p.per_slice - 1) / p.per_slice;
  Tensor part = Tensor::empty({p.slices, int64_t(G) * MO, CI, KH, KW}, dev, x.dtype());
  Tensor part_b = db ? Tensor::empty({p.slices, int64_t(G) * MO}, dev, x.dtype()) : part;
  int64_t total = per * p.slices;
  uint32_t local = local_1d(dev);
  while (local > 8 && total < int64_t(local) * 8) local /= 2;
  uint32_t groups = uint32_t(std::clamp<int64_t>((total + local - 1) / local, 1, max_groups(dev)));
  std::vector<int32_t> spec = {i32(local), tm, tr, tw, KH, KW, sh, sw, dh, dw, db ? 1 : 0, unpool_idx ? 1 : 0, pairs ? 1 : 0};
  launch(dev, ShaderId::conv_direct_dw, spec, p,
         {texel(x, xk), texel(dy), part, part_b, texel(unpool_idx ? *unpool_idx : dy, Texel::u32)}, groups, 1u, 1u,
         profile_label(unpool_idx ? "conv_direct dW unpool" : "conv_direct dW", std::to_string(G * CI) + ">" + std::to_string(G * MO) + "@" +
                                             std::to_string(OH) + "x" + std::to_string(OW) + " " + std::to_string(tr) +
                                             "x" + std::to_string(tw) + "x" + std::to_string(tm) + " slices " +
                                             std::to_string(p.slices)));
  if (db) *db = p.slices == 1 ? part_b.reshape({int64_t(G) * MO}) : sum(part_b, 0);
  if (p.slices == 1) return part.reshape({int64_t(G) * MO, CI, KH, KW});
  return sum(part, 0);
}

ConvP conv_params(const Geometry& g) {
  return {g.N, g.C, g.H, g.W, g.OC, g.OH, g.OW, g.KH, g.KW, g.o.stride_h, g.o.stride_w, g.o.pad_h, g.o.pad_w,
          g.o.dil_h, g.o.dil_w, g.groups, 0, 0, 1, g.N};
}

// One conv_implicit.comp dispatch; rows x cols output tiles (times slices for the weight gradient).
void launch_implicit(int mode, ConvP p, const Tensor& a, const Tensor& b, Tensor& out, const Tensor* bias,
                     int64_t rows, int64_t cols, bool relu = false) {
  Device& dev = out.device();
  // Register tile 16 x 32: on llvmpipe the texel gathers, not the FMAs or the register spills,
  // bound the loop, so big tiles (fewer gathers per FMA) win. Measured on VGG-11-BN x0.25, one
  // thread: conv time 2289 ms (8x8) -> 1221 (16x16), 1164 (32x8), 1046 (16x32); docs/PERFORMANCE.md.
  // The weight gradient (mode 1, now the main use on CPU devices: the direct kernel does forward
  // and data gradient up to 5x5) prefers narrower tiles, 12-20 columns, whichever wastes least
  // (a tile costs about 8 columns' worth of set-up): per dispatch LeNet-5 2,282 us (16x32) ->
  // 1,546-1,592 (16x16, 16x20), the DQN net 438 -> 327 (16x16) -> 281 (16x20; 268 at 16x12),
  // VGG-11-BN x0.25 unchanged (2,704 vs 2,725 us).
  auto [tm, tn] = implicit_tile(mode, rows, cols);
  if (const char* e = std::getenv("VKWB_CONV_TILE")) {   // tuning knob: TMxTN, 1..32
    if (std::sscanf(e, "%dx%d", &tm, &tn) != 2 || tm < 1 || tn < 1 || tm > 32 || tn > 32)
      throw Error(std::string("VKWB_CONV_TILE=") + e + ": expected TMxTN with sizes 1..32, e.g. 8x8");
    tm = int(std::min<int64_t>(rows, tm));
  }
  p.offA = texel_index(a);
  p.offB = texel_index(b);
  int64_t tiles = ((rows + tm - 1) / tm) * ((cols + tn - 1) / tn) * p.G * (mode == 1 ? p.slices : 1);
  uint32_t local = local_1d(dev);
  while (local > 8 && tiles < int64_t(local) * 8) local /= 2;
  uint32_t groups = uint32_t(std::clamp<int64_t>((tiles + local - 1) / local, 1, max_groups(dev)));
  int64_t plane = mode == 0 ? int64_t(p.OH) * p.OW : mode == 1 ? int64_t(p.C / p.G) * p.KH * p.KW : int64_t(p.H) * p.W;
  int vo = plane % 4 == 0 && tn % 4 == 0 && vec4_ok(out) ? 1 : 0;
  std::vector<int32_t> spec = {i32(local), mode, tm, tn, bias ? 1 : 0, vo, relu ? 1 : 0};
  static const char* const names[3] = {"conv_implicit fwd", "conv_implicit dW", "conv_implicit dX"};
  launch(dev, ShaderId::conv_implicit, spec, p, {texel(a), texel(b), out, bias ? *bias : out}, groups, 1u, 1u,
         profile_label(names[mode], std::to_string(rows) + "x" + std::to_string(cols) + " " + std::to_string(tm) +
                                        "x" + std::to_string(tn)));
}

// y [N, OC, OH, OW] = conv(x, w) (+ bias when groups == 1; else added by the caller), then
// max(y, 0) when relu. When the batch fits one chunk, *saved receives the column buffer for the
// weight gradient.
Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor* bias, const Geometry& g, Tensor* saved = nullptr,
                    bool relu = false) {
  Device& dev = x.device();
  Tensor y = Tensor::empty({g.N, g.OC, g.OH, g.OW}, dev, x.dtype());
  if (direct_fits(dev, g.KH, g.KW, g.o.dil_h, g.o.dil_w) && texel_ok(x) && texel_ok(w)) {
    launch_direct(x, w, bias, y, g.N, g.C / g.groups, g.H, g.W, g.OC / g.groups, g.OH, g.OW, g.KH, g.KW,
                  g.o.stride_h, g.o.stride_w, g.o.dil_h, g.o.dil_w, g.o.pad_h, g.o.pad_w, g.groups, false, relu);
    return y;
  }
  if (use_implicit(dev) && texel_ok(x) && texel_ok(w)) {
    launch_implicit(0, conv_params(g), w, x, y, bias, g.OC / g.groups, int64_t(g.N) * g.ohw(), relu);
    return y;
  }
  int chunk = chunk_images(dev, g);
  int Cg = g.C / g.groups, OCg = g.OC / g.groups;
  for (int n0 = 0; n0 < g.N; n0 += chunk) {
    int nb = std::min(chunk, g.N - n0);
    Tensor cols = im2col(x, g, n0, nb);
    Tensor yr = Tensor::empty({g.OC, nb * g.ohw()}, dev, x.dtype());
    grouped_gemm(w, cols, yr, g.groups, OCg, int(nb * g.ohw()), int(Cg * g.kk()), false, false, false, bias, relu);
    rows_to_images(yr, n0, nb, g.OC, g.ohw(), y);
    if (saved && nb == g.N) *saved = cols;
  }
  return y;
}

// dx [N, C, H, W] from dy [N, OC, OH, OW] (conv's data gradient).
// Whether conv_backward_data can read dy as a pooled gradient dp and the 2x2 window indices of a
// fused conv + ReLU + max pool (the direct kernel's UNPOOL input: unit strides and dilations, and
// the data gradient's padding k-1-p even so that its patches start on a window).
bool unpool_data_ok(const Geometry& g, const Tensor& dp, const Tensor& idx, const Tensor& w) {
  const auto& o = g.o;
  return o.stride_h == 1 && o.stride_w == 1 && o.dil_h == 1 && o.dil_w == 1 && (g.KH - 1 - o.pad_h) % 2 == 0 &&
         (g.KW - 1 - o.pad_w) % 2 == 0 && g.KH - 1 - o.pad_h >= 0 && g.KW - 1 - o.pad_w >= 0 &&
         direct_fits(dp.device(), g.KH, g.KW, 1, 1) && texel_ok(dp) && texel_ok(idx, Texel::u32) && texel_ok(w);
}

// unpool_idx (see unpool_data_ok): dy is the pooled gradient, scattered through these indices.
Tensor conv_backward_data(const Tensor& dy, const Tensor& w, const Geometry& g, const Tensor* unpool_idx = nullptr) {
  Device& dev = dy.device();
  Tensor dx = Tensor::empty({g.N, g.C, g.H, g.W}, dev, dy.dtype());
  if (unpool_idx) {
    launch_direct(dy, w, nullptr, dx, g.N, g.OC / g.groups, g.OH, g.OW, g.C / g.groups, g.H, g.W, g.KH, g.KW, 1, 1, 1,
                  1, g.KH - 1 - g.o.pad_h, g.KW - 1 - g.o.pad_w, g.groups, true, false, nullptr, unpool_idx);
    return dx;
  }
  bool unit = g.o.stride_h == 1 && g.o.stride_w == 1;
  if (unit && direct_fits(dev, g.KH, g.KW, g.o.dil_h, g.o.dil_w) && texel_ok(dy) && texel_ok(w)) {
    // dx = dy convolved with the mirrored, transposed weights and padding d*(k-1) - p.
    launch_direct(dy, w, nullptr, dx, g.N, g.OC / g.groups, g.OH, g.OW, g.C / g.groups, g.H, g.W, g.KH, g.KW,
                  1, 1, g.o.dil_h, g.o.dil_w, g.o.dil_h * (g.KH - 1) - g.o.pad_h, g.o.dil_w * (g.KW - 1) - g.o.pad_w,
                  g.groups, true);
    return dx;
  }
  if (use_implicit(dev) && unit && texel_ok(dy) && texel_ok(w)) {
    launch_implicit(2, conv_params(g), w, dy, dx, nullptr, g.C / g.groups, int64_t(g.N) * g.H * g.W);
    return dx;
  }
  int chunk = chunk_images(dev, g);
  int Cg = g.C / g.groups, OCg = g.OC / g.groups;
  for (int n0 = 0; n0 < g.N; n0 += chunk) {
    int nb = std::min(chunk, g.N - n0);
    Tensor dyr = Tensor::empty({g.OC, nb * g.ohw()}, dev, dy.dtype());
    images_to_rows(dy, n0, nb, g.OC, g.ohw(), dyr);
    Tensor dcols = Tensor::empty({g.C * g.kk(), nb * g.ohw()}, dev, dy.dtype());
    grouped_gemm(w, dyr, dcols, g.groups, int(Cg * g.kk()), int(nb * g.ohw()), OCg, true, false, false, nullptr);
    col2im(dcols, dx, g, n0, nb);
  }
  return dx;
}

// dW [OC, C/g, KH, KW] = sum over chunks of dY' @ cols^T.
// The direct weight-gradient kernel's plan when it is the kernel for g (dy: the output gradient,
// or with unpool the pooled one, see launch_direct_dw), else nothing: the implicit GEMM or im2col.
std::optional<DirectDwPlan> direct_dw(const Geometry& g, const Tensor& x, const Tensor& dy, bool unpool) {
  Device& dev = x.device();
  if (!direct_fits(dev, g.KH, g.KW, g.o.dil_h, g.o.dil_w) || !texel_ok(x) || !texel_ok(dy)) return std::nullopt;
  int Cg = g.C / g.groups, OCg = g.OC / g.groups;
  DirectDwPlan q =
      plan_direct_dw(OCg, g.OH, g.OW, g.KH, g.KW, g.o.stride_h, g.o.stride_w, g.o.dil_h, g.o.dil_w, unpool);
  const char* e = std::getenv("VKWB_CONV_DW");   // tuning knob: direct|implicit (else the estimate picks)
  bool direct = e && std::strcmp(e, "direct") == 0 ? true
                : e && std::strcmp(e, "implicit") == 0 ? false
                : q.fmas_per_fetch > 1.3 * implicit_dw_fmas_per_fetch(OCg, int64_t(Cg) * g.kk());
  return direct ? std::optional<DirectDwPlan>(q) : std::nullopt;
}

// dW [OC, C/g, KH, KW]. db (when given) receives the bias gradient if the direct kernel computes
// it on the way (else it stays undefined). unpool_idx: dy is a pooled gradient scattered through
// these indices; only when direct_dw(g, x, dy, true) holds.
Tensor conv_backward_weight(const Tensor& x, const Tensor& dy, const Geometry& g, const Tensor* saved = nullptr,
                            Tensor* db = nullptr, const Tensor* unpool_idx = nullptr) {
  Device& dev = x.device();
  int Cg = g.C / g.groups, OCg = g.OC / g.groups;
  if (auto q = direct_dw(g, x, dy, unpool_idx != nullptr))
    return launch_direct_dw(x, dy, *q, g.N, Cg, g.H, g.W, OCg, g.OH, g.OW, g.KH, g.KW, g.o.stride_h, g.o.stride_w,
                            g.o.dil_h, g.o.dil_w, g.o.pad_h, g.o.pad_w, g.groups, db, unpool_idx);
  if (unpool_idx) throw Error("internal: conv_backward_weight: no kernel reads a pooled gradient here");
  Tensor dw = Tensor::empty({g.OC, Cg, g.KH, g.KW}, dev, x.dtype());
  if (use_implicit(dev) && texel_ok(x) && texel_ok(dy)) {
    // The reduction runs over N*OH*OW: split it over slices of images so that every core gets
    // tiles, then sum the slices' partial gradients.
    ConvP p = conv_params(g);
    int64_t kg = Cg * g.kk(), tiles = ((OCg + 7) / 8) * ((kg + 7) / 8) * g.groups;
    int want = int(std::clamp<int64_t>((512 + tiles - 1) / tiles, 1, g.N));
    p.per_slice = (g.N + want - 1) / want;
    // But at least 256 output pixels per slice: a tile's set-up and its 16 x 20 stores (plus the
    // slices' sum) cost about as much as 64 pixels of FMAs. The DQN net's 3x3 layer (8 x 8 output,
    // batch 32): 32 -> 8 slices, 200-223 -> 170-176 us, the slices' sum 16 -> 8 us.
    p.per_slice = int(std::clamp<int64_t>((256 + g.ohw() - 1) / g.ohw(), p.per_slice, g.N));
    p.slices = (g.N + p.per_slice - 1) / p.per_slice;
    if (p.slices == 1) {
      launch_implicit(1, p, dy, x, dw, nullptr, OCg, kg);
      return dw;
    }
    Tensor part = Tensor::empty({p.slices, g.OC, Cg, g.KH, g.KW}, dev, x.dtype());
    launch_implicit(1, p, dy, x, part, nullptr, OCg, kg);
    return sum(part, 0);
  }
  int chunk = chunk_images(dev, g);
  for (int n0 = 0; n0 < g.N; n0 += chunk) {
    int nb = std::min(chunk, g.N - n0);
    Tensor cols = saved && saved->defined() && nb == g.N ? *saved : im2col(x, g, n0, nb);
    Tensor dyr = Tensor::empty({g.OC, nb * g.ohw()}, dev, x.dtype());
    images_to_rows(dy, n0, nb, g.OC, g.ohw(), dyr);
    grouped_gemm(dyr, cols, dw, g.groups, OCg, int(Cg * g.kk()), int(nb * g.ohw()), false, true, n0 > 0, nullptr);
  }
  return dw;
}

int out_size(int in, int pad, int dil, int k, int stride) { return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1; }

void check_conv(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o, const char* op) {
  check_float(x, op);
  check_float(w, op);
  check_same_device(x, w, op);
  if (x.dim() != 4) throw Error(std::string(op) + ": input must be [N, C, H, W], got " + x.shape().str());
  if (w.dim() != 4) throw Error(std::string(op) + ": weight must be 4-D, got " + w.shape().str());
  if (o.groups < 1 || o.stride_h < 1 || o.stride_w < 1 || o.dil_h < 1 || o.dil_w < 1 || o.pad_h < 0 || o.pad_w < 0)
    throw Error(std::string(op) + ": stride, dilation and groups must be >= 1, padding >= 0");
  (void)bias;
}

}  // namespace

namespace {

// conv2d's forward pass, no autograd node: y, and what the backward needs.
struct ConvForward {
  Tensor y, cols;   // cols: kept for the weight gradient when it fits one chunk (saves an im2col)
  Geometry g;
  bool grad = false;
};
// With pool (2x2 windows, stride 2, a ReLU, the direct kernel): the pooling runs in the
// convolution's epilogue, f.y is the pooled output, *pool_idx its masked window indices, and the
// full-size output is never stored (*pool_idx stays undefined when it cannot be done).
ConvForward conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o, bool relu,
                           const Pool2dOptions* pool = nullptr, Tensor* pool_idx = nullptr) {
  check_conv(x, w, bias, o, "conv2d");
  Geometry g{int(x.size(0)), int(x.size(1)), int(x.size(2)), int(x.size(3)), int(w.size(0)), 0, 0,
             int(w.size(2)), int(w.size(3)), o.groups, o};
  if (g.C % g.groups || g.OC % g.groups || w.size(1) != g.C / g.groups)
    throw Error("conv2d: weight " + w.shape().str() + " does not fit input " + x.shape().str() + " with groups=" + std::to_string(g.groups));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != g.OC))
    throw Error("conv2d: bias " + bias.shape().str() + " does not match " + std::to_string(g.OC) + " output channels");
  g.OH = out_size(g.H, o.pad_h, o.dil_h, g.KH, o.stride_h);
  g.OW = out_size(g.W, o.pad_w, o.dil_w, g.KW, o.stride_w);
  if (g.OH <= 0 || g.OW <= 0) throw Error("conv2d: kernel larger than the padded input " + x.shape().str());
  ConvForward f;
  f.g = g;
  bool fused_bias = bias.defined() && g.groups == 1;
  f.grad = needs_grad({x, w, bias});
  bool late_bias = bias.defined() && !fused_bias;   // grouped: the bias, then the ReLU, after the kernel
  NoGradGuard no_grad;   // the callers record the node
  Device& dev = x.device();
  if (pool && relu && !late_bias && pool->kh == 2 && pool->kw == 2 && (pool->stride_h == 0 || pool->stride_h == 2) &&
      (pool->stride_w == 0 || pool->stride_w == 2) && pool->pad_h == 0 && pool->pad_w == 0 && g.OH >= 2 && g.OW >= 2 &&
      direct_fits(dev, g.KH, g.KW, o.dil_h, o.dil_w) && texel_ok(x) && texel_ok(w)) {
    f.y = Tensor::empty({g.N, g.OC, g.OH / 2, g.OW / 2}, dev, x.dtype());
    *pool_idx = Tensor::empty(f.y.shape(), dev, DType::i32);
    launch_direct(x, w, fused_bias ? &bias : nullptr, f.y, g.N, g.C / g.groups, g.H, g.W, g.OC / g.groups, g.OH, g.OW,
                  g.KH, g.KW, o.stride_h, o.stride_w, o.dil_h, o.dil_w, o.pad_h, o.pad_w, g.groups, false, true, pool_idx);
    return f;
  }
  f.y = conv_forward(x, w, fused_bias ? &bias : nullptr, g, f.grad ? &f.cols : nullptr, relu && !late_bias);
  if (late_bias) f.y = add(f.y, bias.reshape({1, g.OC, 1, 1}));
  if (late_bias && relu) f.y = vkwb::relu(f.y);
  return f;
}

// The gradients {dx, dw, db} of a convolution from dy (the gradient of its pre-activation output),
// or with pool (a fused conv + ReLU + 2x2 max pool, its indices from the direct kernel's epilogue)
// from the pooled gradient: the direct kernels then read it through the indices where they can,
// and dy is scattered out (pool_grad) only for the others.
std::function<std::vector<Tensor>(const Tensor&)> conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& bias,
                                                                 const ConvForward& f,
                                                                 std::optional<MaskedMaxPool> pool = std::nullopt) {
  Tensor xd = x.detach(), wd = w.detach(), cols = f.cols;
  const Geometry g = f.g;
  const bool has_bias = bias.defined(), need_dx = x.requires_grad();
  return [=](const Tensor& grad) {
    Tensor dy = pool ? Tensor() : grad;
    auto dense = [&]() -> const Tensor& {
      if (!dy.defined()) dy = max_pool2d_grad(grad, *pool);
      return dy;
    };
    // VKWB_CONV_UNPOOL=0: always scatter dy out first (to compare).
    static const bool unpool_off = [] {
      const char* e = std::getenv("VKWB_CONV_UNPOOL");
      return e && std::strcmp(e, "0") == 0;
    }();
    const Tensor* idx = pool && !unpool_off ? &pool->idx : nullptr;
    Tensor dx;
    if (need_dx)
      dx = idx && unpool_data_ok(g, grad, *idx, wd) ? conv_backward_data(grad, wd, g, idx) : conv_backward_data(dense(), wd, g);
    Tensor db;
    Tensor dw = idx && texel_ok(*idx, Texel::u32) && direct_dw(g, xd, grad, true)
                    ? conv_backward_weight(xd, grad, g, &cols, has_bias ? &db : nullptr, idx)
                    : conv_backward_weight(xd, dense(), g, &cols, has_bias ? &db : nullptr);
    if (has_bias && !db.defined()) db = sum_to(dense(), {1, g.OC, 1, 1}).reshape({g.OC});
    return std::vector<Tensor>{dx, dw, db};
  };
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o, Epilogue act) {
  const bool relu = act == Epilogue::relu;
  ConvForward f = conv2d_forward(x, w, bias, o, relu);
  if (f.grad) {
    Tensor ys = relu ? f.y.detach() : Tensor();
    auto backward = conv2d_backward(x, w, bias, f);
    record(relu ? "conv2d+relu" : "conv2d", f.y, {x, w, bias}, [=](const Tensor& dy_out) {
      return backward(relu ? relu_grad_from_output(ys, dy_out) : dy_out);
    });
  }
  return f.y;
}

Tensor conv2d_relu_max_pool2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& co,
                              const Pool2dOptions& po) {
  // The CPU reference backend keeps the plain composition: the tests compare the two.
  if (x.device().is_cpu()) return max_pool2d(conv2d(x, w, bias, co, Epilogue::relu), po);
  Tensor idx;
  ConvForward f = conv2d_forward(x, w, bias, co, true, &po, &idx);
  MaskedMaxPool m = idx.defined() ? masked_max_pool2d_of(f.y, idx, Shape{f.g.N, f.g.OC, f.g.OH, f.g.OW}, po)
                           : masked_max_pool2d(f.y, po);
  Tensor out = m.y;
  if (f.grad) {
    m.y = Tensor();   // the node must not hold its own output
    if (idx.defined()) {   // 2x2 windows from the direct kernel's epilogue
      auto backward = conv2d_backward(x, w, bias, f, m);
      record("conv2d+relu+max_pool2d", out, {x, w, bias}, backward);
    } else {
      auto backward = conv2d_backward(x, w, bias, f);
      record("conv2d+relu+max_pool2d", out, {x, w, bias}, [=](const Tensor& dp) { return backward(max_pool2d_grad(dp, m)); });
    }
  }
  return out;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o) {
  check_conv(x, w, bias, o, "conv_transpose2d");
  int C = int(x.size(1));
  if (w.size(0) != C || C % o.groups) throw Error("conv_transpose2d: weight " + w.shape().str() + " does not fit input " + x.shape().str());
  int OC = int(w.size(1)) * o.groups;
  int KH = int(w.size(2)), KW = int(w.size(3));
  int OH = (int(x.size(2)) - 1) * o.stride_h - 2 * o.pad_h + o.dil_h * (KH - 1) + o.out_pad_h + 1;
  int OW = (int(x.size(3)) - 1) * o.stride_w - 2 * o.pad_w + o.dil_w * (KW - 1) + o.out_pad_w + 1;
  if (o.out_pad_h >= std::max(o.stride_h, o.dil_h) || o.out_pad_w >= std::max(o.stride_w, o.dil_w))
    throw Error("conv_transpose2d: output padding must be smaller than stride or dilation");
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != OC))
    throw Error("conv_transpose2d: bias " + bias.shape().str() + " does not match " + std::to_string(OC) + " output channels");
  // The equivalent convolution maps y [N, OC, OH, OW] -> x [N, C, H, W] with weight w viewed as
  // [C, OC/g, KH, KW]: its data-backward is our forward.
  Geometry g{int(x.size(0)), OC, OH, OW, C, int(x.size(2)), int(x.size(3)), KH, KW, o.groups, o};
  Tensor y = conv_backward_data(x.detach(), w.detach(), g);
  if (bias.defined()) y = add(y, bias.detach().reshape({1, OC, 1, 1}));
  if (needs_grad({x, w, bias})) {
    Tensor xd = x.detach(), wd = w.detach();
    bool has_bias = bias.defined();
    record("conv_transpose2d", y, {x, w, bias}, [=](const Tensor& dy) {
      Tensor dx = conv_forward(dy, wd, nullptr, g);
      Tensor dw = conv_backward_weight(dy, xd, g);
      Tensor db = has_bias ? sum_to(dy, {1, OC, 1, 1}).reshape({OC}) : Tensor();
      return std::vector<Tensor>{dx, dw, db};
    });
  }
  return y;
}

}  // namespace vkwb
