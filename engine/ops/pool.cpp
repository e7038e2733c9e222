// 2-D max / average pooling (and adaptive average pooling for divisible sizes).
#include <cstdlib>
#include <cstring>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"
#include "engine/ops/pool.h"
#include "engine/reference/reference.h"

namespace vkwb {
using namespace detail;

static PoolP pool_params(const Shape& xs, const Pool2dOptions& o_in, const char* op) {
  if (xs.dim() != 4) throw Error(std::string(op) + ": input must be [N, C, H, W], got " + xs.str());
  Pool2dOptions o = o_in;
  if (o.stride_h == 0) o.stride_h = o.kh;
  if (o.stride_w == 0) o.stride_w = o.kw;
  if (o.kh < 1 || o.kw < 1 || o.stride_h < 1 || o.stride_w < 1 || o.pad_h < 0 || o.pad_w < 0)
    throw Error(std::string(op) + ": kernel and stride must be >= 1, padding >= 0");
  if (2 * o.pad_h > o.kh || 2 * o.pad_w > o.kw) throw Error(std::string(op) + ": padding must be at most half the kernel");
  PoolP p{};
  p.planes = i32(xs[0] * xs[1]);
  p.H = i32(xs[2]);
  p.W = i32(xs[3]);
  p.KH = o.kh;
  p.KW = o.kw;
  p.sh = o.stride_h;
  p.sw = o.stride_w;
  p.ph = o.pad_h;
  p.pw = o.pad_w;
  p.OH = (p.H + 2 * p.ph - p.KH) / p.sh + 1;
  p.OW = (p.W + 2 * p.pw - p.KW) / p.sw + 1;
  p.count_pad = o.count_include_pad ? 1 : 0;
  if (p.OH <= 0 || p.OW <= 0) throw Error(std::string(op) + ": kernel larger than input " + xs.str());
  return p;
}
static PoolP pool_params(const Tensor& x, const Pool2dOptions& o, const char* op) {
  check_float(x, op);
  return pool_params(x.shape(), o, op);
}

// Windows tile the image: every pixel is in at most one window (the fast kernel paths).
static bool tiles(const PoolP& p) { return p.KH == p.sh && p.KW == p.sw && p.ph == 0 && p.pw == 0; }

// The four-outputs-per-invocation kernels (VEC): windows up to 4x4 and strides up to 4 are
// compiled in (one pipeline per shape); the output starts on 16 bytes. Measured on LeNet-5's two
// 2x2 pools (docs/PERFORMANCE.md). Not for the backward of tiling windows: there the row-wise
// scatter (NOOVER) reads each dy and idx once, the VEC gather form once per input element, and
// it was slower (LeNet-5's pool gradients 71 vs 119 ms per 60 steps).
static std::vector<int32_t> pool_spec(const Device& dev, const PoolP& p, bool is_max, const Tensor& out, bool backward,
                                      bool relu_mask = false) {
  bool vec = vec4_ok(out) && p.KH <= 4 && p.KW <= 4 && p.sh <= 4 && p.sw <= 4 && !(backward && tiles(p));
  if (const char* e = std::getenv("VKWB_POOL_VEC"); e && std::strcmp(e, "0") == 0) vec = false;
  return {i32(local_1d(dev)), is_max ? 1 : 0, tiles(p) ? 1 : 0, vec ? 1 : 0, p.KH, p.KW, p.sh, p.sw, relu_mask ? 1 : 0};
}

Tensor detail::pool_grad(const Tensor& dy, const Tensor& idx, const PoolP& p, bool is_max, const Shape& xs) {
  Device& dev = dy.device();
  Tensor dx = Tensor::empty(xs, dev, dy.dtype());
  if (dev.is_cpu()) {
    with_float_type(dy.dtype(), [&](auto t) {
      using T = decltype(t);
      ref::pool_grad<T>(is_max, p, dy.data<T>(), is_max ? idx.data<int32_t>() : nullptr, dx.data<T>());
    });
  } else {
    PoolP q = p;
    KernelArg in = read_arg(dy, q.in_texel);
    KernelArg ix = read_arg(is_max ? idx : dy, q.idx_texel, Texel::u32);
    bool tx = in.is_texel && ix.is_texel;
    if (!tx) in = KernelArg(dy), ix = KernelArg(is_max ? idx : dy), q.in_texel = q.idx_texel = 0;
    std::vector<int32_t> spec = pool_spec(dev, p, is_max, dx, true);
    int64_t work = spec[3] ? (dx.numel() + 3) / 4 : spec[2] ? int64_t(p.planes) * p.H : dx.numel();
    launch(dev, tx ? ShaderId::pool_grad_texel : ShaderId::pool_grad, spec, q, {in, ix, dx}, groups_1d(dev, work));
  }
  return dx;
}

// The forward pass without an autograd node; relu_mask: see MaskedMaxPool.
static void pool_forward(const Tensor& x, const PoolP& p, bool is_max, bool relu_mask, Tensor& y, Tensor& idx) {
  Device& dev = x.device();
  y = Tensor::empty({x.size(0), x.size(1), p.OH, p.OW}, dev, x.dtype());
  idx = is_max ? Tensor::empty(y.shape(), dev, DType::i32) : Tensor();
  if (y.numel() > 0) {
    if (dev.is_cpu()) {
      with_float_type(x.dtype(), [&](auto t) {
        using T = decltype(t);
        ref::pool<T>(is_max, p, x.data<T>(), y.data<T>(), is_max ? idx.data<int32_t>() : nullptr);
        if (relu_mask) {
          const T* yv = y.data<T>();
          int32_t* iv = idx.data<int32_t>();
          for (int64_t i = 0; i < y.numel(); ++i)
            if (!(yv[i] > T(0))) iv[i] = -1;
        }
      });
    } else {
      PoolP q = p;
      KernelArg in = read_arg(x, q.in_texel);
      std::vector<int32_t> spec = pool_spec(dev, p, is_max, y, false, relu_mask);
      int64_t work = spec[3] ? (y.numel() + 3) / 4 : spec[2] ? int64_t(p.planes) * p.OH : y.numel();
      launch(dev, in.is_texel ? ShaderId::pool_texel : ShaderId::pool, spec, q, {in, y, is_max ? idx : y}, groups_1d(dev, work));
    }
  }
}

MaskedMaxPool detail::masked_max_pool2d(const Tensor& x, const Pool2dOptions& o) {
  MaskedMaxPool m;
  m.p = pool_params(x, o, "max_pool2d");
  m.input_shape = x.shape();
  pool_forward(x, m.p, true, true, m.y, m.idx);
  return m;
}

MaskedMaxPool detail::masked_max_pool2d_of(Tensor y, Tensor idx, const Shape& input_shape, const Pool2dOptions& o) {
  MaskedMaxPool m;
  m.p = pool_params(input_shape, o, "max_pool2d");
  m.input_shape = input_shape;
  m.y = std::move(y);
  m.idx = std::move(idx);
  return m;
}

Tensor detail::max_pool2d_grad(const Tensor& dy, const MaskedMaxPool& m) { return pool_grad(dy, m.idx, m.p, true, m.input_shape); }

static Tensor pool(const Tensor& x, const Pool2dOptions& o, bool is_max) {
  PoolP p = pool_params(x, o, is_max ? "max_pool2d" : "avg_pool2d");
  Tensor y, idx;
  pool_forward(x, p, is_max, false, y, idx);
  Shape xs = x.shape();
  record(is_max ? "max_pool2d" : "avg_pool2d", y, {x}, [idx, p, is_max, xs](const Tensor& g) {
    return std::vector<Tensor>{pool_grad(g, idx, p, is_max, xs)};
  });
  return y;
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o) { return pool(x, o, true); }
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o) { return pool(x, o, false); }

Tensor adaptive_avg_pool2d(const Tensor& x, int out_h, int out_w) {
  if (x.dim() != 4) throw Error("adaptive_avg_pool2d: input must be [N, C, H, W], got " + x.shape().str());
  int H = int(x.size(2)), W = int(x.size(3));
  if (out_h < 1 || out_w < 1 || out_h > H || out_w > W)
    throw Error("adaptive_avg_pool2d: output " + std::to_string(out_h) + "x" + std::to_string(out_w) + " must be between 1x1 and the input " +
                std::to_string(H) + "x" + std::to_string(W));
  if (H % out_h || W % out_w) {
    // Windows of varying size, as torch.nn.AdaptiveAvgPool2d: cell i spans [floor(i H / oh),
    // ceil((i + 1) H / oh)), so neighbouring windows may overlap. Composed from narrow + mean +
    // concat (autograd for free); out_h * out_w cells, meant for the small heads it is used for.
    std::vector<Tensor> rows;
    for (int i = 0; i < out_h; ++i) {
      int hs = i * H / out_h, he = ((i + 1) * H + out_h - 1) / out_h;
      Tensor band = narrow(x, 2, hs, he - hs);
      std::vector<Tensor> cells;
      for (int j = 0; j < out_w; ++j) {
        int ws = j * W / out_w, we = ((j + 1) * W + out_w - 1) / out_w;
        cells.push_back(mean(mean(narrow(band, 3, ws, we - ws), 3, true), 2, true));   // [N, C, 1, 1]
      }
      rows.push_back(concat(cells, 3));
    }
    return concat(rows, 2);
  }
  Pool2dOptions o;
  o.kh = H / out_h;
  o.kw = W / out_w;
  return avg_pool2d(x, o);
}

}  // namespace vkwb
