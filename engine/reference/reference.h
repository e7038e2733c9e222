// Plain-loop CPU versions of every kernel in shaders/: the test oracle, the selftest oracle and
// the `--device cpu` backend. Each function takes the same push-constant struct as its shader.
// Templated on the element type so gradient checks can run them in double; accumulations are in
// double regardless. Obviously correct beats fast here (GEMM may use BLAS: see gemm()).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "engine/ops/params.h"

namespace vkwb::ref {

template <class T> T unary_fwd(UnaryOp op, T v, T a, T b) {
  switch (op) {
    case UnaryOp::relu: return v > 0 ? v : T(0);
    case UnaryOp::leaky_relu: return v > 0 ? v : a * v;
    case UnaryOp::elu: return v > 0 ? v : a * (std::exp(v) - T(1));
    case UnaryOp::sigmoid: return T(1) / (T(1) + std::exp(-v));
    case UnaryOp::tanh: return std::tanh(v);
    case UnaryOp::softplus: return v > T(20) ? v : std::log1p(std::exp(v));
    case UnaryOp::exp: return std::exp(v);
    case UnaryOp::log: return std::log(v);
    case UnaryOp::sqrt: return std::sqrt(v);
    case UnaryOp::abs: return std::abs(v);
    case UnaryOp::neg: return -v;
    case UnaryOp::clamp: return v < a ? a : (v > b ? b : v);
    case UnaryOp::affine: return a * v + b;
    case UnaryOp::square: return v * v;
    case UnaryOp::pow: return std::pow(v, a);
    case UnaryOp::sign: return T((v > 0) - (v < 0));
    case UnaryOp::silu: return v / (T(1) + std::exp(-v));
    case UnaryOp::gelu: return T(0.5) * v * (T(1) + std::erf(v / std::sqrt(T(2))));
    case UnaryOp::gelu_tanh: {
      const T c = std::sqrt(T(2) / T(M_PI));
      return T(0.5) * v * (T(1) + std::tanh(c * (v + T(0.044715) * v * v * v)));
    }
  }
  return v;
}

template <class T> T unary_deriv(UnaryOp op, T v, T o, T a, T b) {
  switch (op) {
    case UnaryOp::relu: return v > 0 ? T(1) : T(0);
    case UnaryOp::leaky_relu: return v > 0 ? T(1) : a;
    case UnaryOp::elu: return v > 0 ? T(1) : o + a;
    case UnaryOp::sigmoid: return o * (T(1) - o);
    case UnaryOp::tanh: return T(1) - o * o;
    case UnaryOp::softplus: return T(1) / (T(1) + std::exp(-v));
    case UnaryOp::exp: return o;
    case UnaryOp::log: return T(1) / v;
    case UnaryOp::sqrt: return T(0.5) / o;
    case UnaryOp::abs: return T((v > 0) - (v < 0));
    case UnaryOp::neg: return T(-1);
    case UnaryOp::clamp: return (v >= a && v <= b) ? T(1) : T(0);
    case UnaryOp::affine: return a;
    case UnaryOp::square: return T(2) * v;
    case UnaryOp::pow: return a * std::pow(v, a - T(1));
    case UnaryOp::sign: return T(0);
    case UnaryOp::silu: {
      T s = T(1) / (T(1) + std::exp(-v));
      return s * (T(1) + v * (T(1) - s));
    }
    case UnaryOp::gelu:
      return T(0.5) * (T(1) + std::erf(v / std::sqrt(T(2)))) + v * std::exp(-v * v / T(2)) / std::sqrt(T(2) * T(M_PI));
    case UnaryOp::gelu_tanh: {
      const T c = std::sqrt(T(2) / T(M_PI));
      T t = std::tanh(c * (v + T(0.044715) * v * v * v));
      return T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * c * (T(1) + T(3) * T(0.044715) * v * v);
    }
  }
  return T(0);
}

template <class T> void unary(UnaryOp op, const UnaryP& p, const T* x, T* y) {
  for (uint32_t i = 0; i < p.n; ++i) y[i] = unary_fwd<T>(op, x[i], T(p.a), T(p.b));
}

template <class T> void unary_grad(UnaryOp op, const UnaryP& p, const T* x, const T* y, const T* dy, T* dx) {
  for (uint32_t i = 0; i < p.n; ++i) dx[i] = dy[i] * unary_deriv<T>(op, x[i], y[i], T(p.a), T(p.b));
}

template <class T> T binary_fwd(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::add: return x + y;
    case BinaryOp::sub: return x - y;
    case BinaryOp::mul: return x * y;
    case BinaryOp::div: return x / y;
    case BinaryOp::max: return x > y ? x : y;
    case BinaryOp::min: return x < y ? x : y;
    case BinaryOp::pow: return std::pow(x, y);
    case BinaryOp::ge: return x >= y ? T(1) : T(0);
    case BinaryOp::gt: return x > y ? T(1) : T(0);
    case BinaryOp::eq: return x == y ? T(1) : T(0);
    case BinaryOp::lt: return x < y ? T(1) : T(0);
    case BinaryOp::le: return x <= y ? T(1) : T(0);
  }
  return x;
}

template <class T> void binary(BinaryOp op, const BinaryP& p, const T* a, const T* b, T* o) {
  for (uint32_t i = 0; i < p.n; ++i) {
    uint32_t r = i;
    int64_t ia = 0, ib = 0;
    for (int d = p.ndim - 1; d >= 0; --d) {
      int64_t c = r % uint32_t(p.shape[d]);
      r /= uint32_t(p.shape[d]);
      ia += c * p.sa[d];
      ib += c * p.sb[d];
    }
    o[i] = binary_fwd<T>(op, a[ia], b[ib]);
  }
}

// out (f32/f64) or out_idx (i32) depending on op.
template <class T> void reduce(ReduceOp op, const ReduceP& p, const T* x, T* out, int32_t* out_idx) {
  for (uint32_t o = 0; o < p.outer; ++o) {
    for (uint32_t k = 0; k < p.inner; ++k) {
      const T* base = x + size_t(o) * p.R * p.inner + k;
      double acc = 0, acc2 = 0;
      double best = double(base[0]);
      int32_t bi = 0;
      for (uint32_t r = 0; r < p.R; ++r) {
        double v = double(base[size_t(r) * p.inner]);
        acc += v;
        acc2 += v * v;
        if ((op == ReduceOp::max || op == ReduceOp::argmax) && v > best) best = v, bi = int32_t(r);
        if ((op == ReduceOp::min || op == ReduceOp::argmin) && v < best) best = v, bi = int32_t(r);
      }
      size_t j = size_t(o) * p.inner + k;
      double res = 0;
      switch (op) {
        case ReduceOp::sum: res = acc; break;
        case ReduceOp::mean: res = acc / p.R; break;
        case ReduceOp::max: case ReduceOp::min: res = best; break;
        case ReduceOp::sumsq: res = acc2; break;
        case ReduceOp::var: {
          double mean = acc / p.R, ss = 0;
          for (uint32_t r = 0; r < p.R; ++r) {
            double d = double(base[size_t(r) * p.inner]) - mean;
            ss += d * d;
          }
          res = ss / (double(p.R) - p.ddof);
          break;
        }
        case ReduceOp::argmax: case ReduceOp::argmin: out_idx[j] = bi; continue;
      }
      out[j] = T(res);
    }
  }
}

template <class T> void softmax(bool log, const SoftmaxP& p, const T* x, T* y) {
  for (uint32_t o = 0; o < p.outer; ++o)
    for (uint32_t k = 0; k < p.inner; ++k) {
      size_t base = size_t(o) * p.R * p.inner + k;
      double m = double(x[base]);
      for (uint32_t r = 1; r < p.R; ++r) m = std::max(m, double(x[base + size_t(r) * p.inner]));
      double s = 0;
      for (uint32_t r = 0; r < p.R; ++r) s += std::exp(double(x[base + size_t(r) * p.inner]) - m);
      for (uint32_t r = 0; r < p.R; ++r) {
        double v = double(x[base + size_t(r) * p.inner]) - m;
        y[base + size_t(r) * p.inner] = T(log ? v - std::log(s) : std::exp(v) / s);
      }
    }
}

template <class T> void softmax_grad(bool log, const SoftmaxP& p, const T* y, const T* dy, T* dx) {
  for (uint32_t o = 0; o < p.outer; ++o)
    for (uint32_t k = 0; k < p.inner; ++k) {
      size_t base = size_t(o) * p.R * p.inner + k;
      double s = 0;
      for (uint32_t r = 0; r < p.R; ++r) {
        size_t q = base + size_t(r) * p.inner;
        s += log ? double(dy[q]) : double(dy[q]) * double(y[q]);
      }
      for (uint32_t r = 0; r < p.R; ++r) {
        size_t q = base + size_t(r) * p.inner;
        dx[q] = T(log ? double(dy[q]) - std::exp(double(y[q])) * s : double(y[q]) * (double(dy[q]) - s));
      }
    }
}

// Works on any element type (f32, i32, f64): it only moves values.
template <class T> void strided_copy(const CopyP& p, const T* src, T* dst) {
  for (uint32_t i = 0; i < p.n; ++i) {
    uint32_t r = i;
    int64_t is = p.src_off, id = p.dst_off;
    for (int d = p.ndim - 1; d >= 0; --d) {
      int64_t c = r % uint32_t(p.shape[d]);
      r /= uint32_t(p.shape[d]);
      is += c * p.ss[d];
      id += c * p.ds[d];
    }
    dst[id] = src[is];
  }
}

inline void philox_block(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c[0], p1 = uint64_t(0xCD9E8D57u) * c[2];
    uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0), hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    uint32_t n0 = hi1 ^ c[1] ^ k0, n2 = hi0 ^ c[3] ^ k1;
    c[0] = n0; c[1] = lo1; c[2] = n2; c[3] = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
}

template <class T> void philox(RandomDist dist, const PhiloxP& p, T* o) {
  auto unit = [](uint32_t w) { return (float(w >> 8) + 0.5f) * (1.0f / 16777216.0f); };
  for (uint32_t i = 0; i < p.n; ++i) {
    uint32_t c[4] = {i >> 1, 0, 0, 0};
    philox_block(c, p.seed_lo, p.seed_hi);
    bool odd = i & 1;
    float u1 = unit(odd ? c[2] : c[0]), u2 = unit(odd ? c[3] : c[1]);
    double r;
    if (dist == RandomDist::uniform) r = p.a + (double(p.b) - p.a) * u1;
    else if (dist == RandomDist::normal) r = p.a + p.b * std::sqrt(-2.0 * std::log(double(u1))) * std::cos(6.283185307179586 * u2);
    else r = u1 < p.a ? 1.0 : 0.0;
    o[i] = T(r);
  }
}

template <class T> void gemm(bool ta, bool tb, int bias_mode, bool use_beta, const GemmP& p, int batch,
                             const T* A, const T* B, T* C, const T* bias, bool relu = false) {
  for (int b = 0; b < batch; ++b)
    for (int m = 0; m < p.M; ++m)
      for (int n = 0; n < p.N; ++n) {
        double acc = 0;
        const T* a = A + int64_t(b) * p.sa;
        const T* bb = B + int64_t(b) * p.sb;
        for (int k = 0; k < p.K; ++k) {
          double av = ta ? a[int64_t(k) * p.lda + m] : a[int64_t(m) * p.lda + k];
          double bv = tb ? bb[int64_t(n) * p.ldb + k] : bb[int64_t(k) * p.ldb + n];
          acc += av * bv;
        }
        double v = p.alpha * acc;
        if (bias_mode == 1) v += bias[n];
        if (bias_mode == 2) v += bias[m];
        T& c = C[int64_t(b) * p.sc + int64_t(m) * p.ldc + n];
        if (use_beta) v += p.beta * double(c);
        if (relu && !(v > 0)) v = 0;
        c = T(v);
      }
}

template <class T> void im2col(const Im2colP& p, const T* x, T* cols) {
  int ohw = p.OH * p.OW, ncols = p.nb * ohw;
  for (int c = 0; c < p.C; ++c)
    for (int kh = 0; kh < p.KH; ++kh)
      for (int kw = 0; kw < p.KW; ++kw) {
        int r = (c * p.KH + kh) * p.KW + kw;
        for (int nl = 0; nl < p.nb; ++nl)
          for (int oh = 0; oh < p.OH; ++oh)
            for (int ow = 0; ow < p.OW; ++ow) {
              int h = oh * p.sh - p.ph + kh * p.dh, w = ow * p.sw - p.pw + kw * p.dw;
              T v = 0;
              if (h >= 0 && h < p.H && w >= 0 && w < p.W) v = x[((int64_t(p.n0) + nl) * p.C + c) * p.H * p.W + h * p.W + w];
              cols[int64_t(r) * ncols + nl * ohw + oh * p.OW + ow] = v;
            }
      }
}

// Scatter form (the obvious adjoint), unlike the shader's gather form: two independent derivations.
template <class T> void col2im(bool acc, const Im2colP& p, const T* cols, T* dx) {
  int ohw = p.OH * p.OW, ncols = p.nb * ohw;
  T* out = dx + int64_t(p.n0) * p.C * p.H * p.W;
  if (!acc) std::memset(out, 0, sizeof(T) * size_t(p.nb) * p.C * p.H * p.W);
  for (int c = 0; c < p.C; ++c)
    for (int kh = 0; kh < p.KH; ++kh)
      for (int kw = 0; kw < p.KW; ++kw) {
        int r = (c * p.KH + kh) * p.KW + kw;
        for (int nl = 0; nl < p.nb; ++nl)
          for (int oh = 0; oh < p.OH; ++oh)
            for (int ow = 0; ow < p.OW; ++ow) {
              int h = oh * p.sh - p.ph + kh * p.dh, w = ow * p.sw - p.pw + kw * p.dw;
              if (h >= 0 && h < p.H && w >= 0 && w < p.W)
                out[(int64_t(nl) * p.C + c) * p.H * p.W + h * p.W + w] += cols[int64_t(r) * ncols + nl * ohw + oh * p.OW + ow];
            }
      }
}

template <class T> void pool(bool is_max, const PoolP& p, const T* x, T* y, int32_t* idx) {
  for (int pl = 0; pl < p.planes; ++pl)
    for (int oh = 0; oh < p.OH; ++oh)
      for (int ow = 0; ow < p.OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity(), s = 0;
        int bi = -1, cnt = 0;
        for (int kh = 0; kh < p.KH; ++kh)
          for (int kw = 0; kw < p.KW; ++kw) {
            int h = oh * p.sh - p.ph + kh, w = ow * p.sw - p.pw + kw;
            if (h < 0 || h >= p.H || w < 0 || w >= p.W) continue;
            double v = x[int64_t(pl) * p.H * p.W + h * p.W + w];
            if (bi < 0 || v > best) best = v, bi = h * p.W + w;
            s += v;
            cnt++;
          }
        int64_t o = (int64_t(pl) * p.OH + oh) * p.OW + ow;
        if (is_max) y[o] = T(best), idx[o] = bi;
        else y[o] = T(s / (p.count_pad ? p.KH * p.KW : std::max(cnt, 1)));
      }
}

template <class T> void pool_grad(bool is_max, const PoolP& p, const T* dy, const int32_t* idx, T* dx) {
  std::memset(dx, 0, sizeof(T) * size_t(p.planes) * p.H * p.W);
  for (int pl = 0; pl < p.planes; ++pl)
    for (int oh = 0; oh < p.OH; ++oh)
      for (int ow = 0; ow < p.OW; ++ow) {
        int64_t o = (int64_t(pl) * p.OH + oh) * p.OW + ow;
        T* plane = dx + int64_t(pl) * p.H * p.W;
        if (is_max) {
          if (idx[o] >= 0) plane[idx[o]] += dy[o];
          continue;
        }
        int cnt = 0;
        for (int kh = 0; kh < p.KH; ++kh)
          for (int kw = 0; kw < p.KW; ++kw) {
            int h = oh * p.sh - p.ph + kh, w = ow * p.sw - p.pw + kw;
            cnt += (h >= 0 && h < p.H && w >= 0 && w < p.W);
          }
        T div = T(p.count_pad ? p.KH * p.KW : std::max(cnt, 1));
        for (int kh = 0; kh < p.KH; ++kh)
          for (int kw = 0; kw < p.KW; ++kw) {
            int h = oh * p.sh - p.ph + kh, w = ow * p.sw - p.pw + kw;
            if (h >= 0 && h < p.H && w >= 0 && w < p.W) plane[h * p.W + w] += dy[o] / div;
          }
      }
}

template <class T> void gather(const IndexP& p, const T* x, const int32_t* idx, T* y) {
  for (uint64_t i = 0; i < uint64_t(p.outer) * p.J * p.inner; ++i) {
    uint64_t k = i % p.inner, o = i / (uint64_t(p.J) * p.inner);
    int32_t r = idx[i];
    y[i] = (r >= 0 && uint32_t(r) < p.R) ? x[(o * p.R + r) * p.inner + k] : T(0);
  }
}

template <class T> void scatter_add(const IndexP& p, T* x, const int32_t* idx, const T* y) {
  std::memset(x, 0, sizeof(T) * size_t(p.outer) * p.R * p.inner);
  for (uint64_t i = 0; i < uint64_t(p.outer) * p.J * p.inner; ++i) {
    uint64_t k = i % p.inner, o = i / (uint64_t(p.J) * p.inner);
    int32_t r = idx[i];
    if (r >= 0 && uint32_t(r) < p.R) x[(o * p.R + r) * p.inner + k] += y[i];
  }
}

template <class T> void optim(OptimOp op, const OptimP& p, T* prm, const T* grad, T* s1, T* s2, T* s3, T scale) {
  bool flag = p.flags & 1;
  for (uint32_t i = 0; i < p.n; ++i) {
    double w = prm[i], g = double(grad[i]) * scale;
    if (!(op == OptimOp::adam && flag)) g += p.wd * w;
    switch (op) {
      case OptimOp::sgd: w -= p.lr * g; break;
      case OptimOp::momentum: {
        double v = p.first ? g : p.a * s1[i] + (1.0 - p.b) * g;
        s1[i] = T(v);
        w -= p.lr * (flag ? g + p.a * v : v);
        break;
      }
      case OptimOp::adagrad: {
        double s = s1[i] + g * g;
        s1[i] = T(s);
        w -= p.lr * g / (std::sqrt(s) + p.eps);
        break;
      }
      case OptimOp::adadelta: {
        double s = p.a * s1[i] + (1 - p.a) * g * g;
        double d = std::sqrt(double(s2[i]) + p.eps) / std::sqrt(s + p.eps) * g;
        s1[i] = T(s);
        s2[i] = T(p.a * s2[i] + (1 - p.a) * d * d);
        w -= p.lr * d;
        break;
      }
      case OptimOp::rmsprop: {
        double s = p.a * s1[i] + (1 - p.a) * g * g;
        s1[i] = T(s);
        double avg = s;
        if (flag) {
          double m = p.a * s2[i] + (1 - p.a) * g;
          s2[i] = T(m);
          avg = s - m * m;
        }
        double upd = g / (std::sqrt(std::max(avg, 0.0)) + p.eps);
        if (p.mom > 0) {
          double buf = p.mom * s3[i] + upd;
          s3[i] = T(buf);
          upd = buf;
        }
        w -= p.lr * upd;
        break;
      }
      case OptimOp::adam: {
        if (flag) w *= 1.0 - double(p.lr) * p.wd;
        double m = p.a * s1[i] + (1 - p.a) * g;
        double v = p.b * s2[i] + (1 - p.b) * g * g;
        s1[i] = T(m);
        s2[i] = T(v);
        w -= p.lr * (m / p.c1) / (std::sqrt(v / p.c2) + p.eps);
        break;
      }
    }
    prm[i] = T(w);
  }
}

// Batch norm, as shaders/batchnorm.comp (same modes, buffers and layouts), in T with double sums.
// stats = [mean, var, scale, shift] (4C); coef = [dw, db, g, b2, c2] (5C).
template <class T> void batch_norm_stats(const BatchNormP& p, const T* x, const T* w, const T* b, T* rm, T* rv,
                                         bool training, T* stats) {
  const uint32_t C = p.C;
  const double M = double(p.N) * p.HW;
  for (uint32_t c = 0; c < C; ++c) {
    double mean, var;
    if (training) {
      double s = 0, ss = 0;
      for (uint32_t n = 0; n < p.N; ++n)
        for (uint32_t i = 0; i < p.HW; ++i) s += double(x[(size_t(n) * C + c) * p.HW + i]);
      mean = s / M;
      for (uint32_t n = 0; n < p.N; ++n)
        for (uint32_t i = 0; i < p.HW; ++i) {
          double d = double(x[(size_t(n) * C + c) * p.HW + i]) - mean;
          ss += d * d;
        }
      var = ss / M;
      if (p.flags & 1) {
        double m = p.momentum;
        rm[c] = T((1 - m) * double(rm[c]) + m * mean);
        rv[c] = T((1 - m) * double(rv[c]) + m * var * M / std::max(M - 1, 1.0));
      }
    } else {
      mean = double(rm[c]);
      var = double(rv[c]);
    }
    double sc = ((p.flags & 2) ? double(w[c]) : 1.0) / std::sqrt(var + double(p.eps));
    stats[c] = T(mean);
    stats[C + c] = T(var);
    stats[2 * C + c] = T(sc);
    stats[3 * C + c] = T(((p.flags & 4) ? double(b[c]) : 0.0) - mean * sc);
  }
}
template <class T> void batch_norm_apply(const BatchNormP& p, const T* x, const T* stats, T* y) {
  const size_t total = size_t(p.N) * p.C * p.HW;
  for (size_t i = 0; i < total; ++i) {
    size_t c = (i / p.HW) % p.C;
    y[i] = T(double(x[i]) * double(stats[2 * p.C + c]) + double(stats[3 * p.C + c]));
  }
}
template <class T> void batch_norm_backward(const BatchNormP& p, const T* x, const T* dy, const T* w,
                                            const T* stats, T* coef, T* dx) {
  const uint32_t C = p.C;
  const double M = double(p.N) * p.HW;
  for (uint32_t c = 0; c < C; ++c) {
    double mean = double(stats[c]), inv = 1.0 / std::sqrt(double(stats[C + c]) + double(p.eps));
    double sdy = 0, sdyx = 0;
    for (uint32_t n = 0; n < p.N; ++n)
      for (uint32_t i = 0; i < p.HW; ++i) {
        size_t j = (size_t(n) * C + c) * p.HW + i;
        sdy += double(dy[j]);
        sdyx += double(dy[j]) * (double(x[j]) - mean);
      }
    double dw = sdyx * inv, db = sdy, g = ((p.flags & 2) ? double(w[c]) : 1.0) * inv;
    bool training = p.flags & 8;
    double b2 = training ? -g * inv * dw / M : 0.0, c2 = training ? -g * db / M - b2 * mean : 0.0;
    coef[c] = T(dw);
    coef[C + c] = T(db);
    coef[2 * C + c] = T(g);
    coef[3 * C + c] = T(b2);
    coef[4 * C + c] = T(c2);
    for (uint32_t n = 0; n < p.N; ++n)
      for (uint32_t i = 0; i < p.HW; ++i) {
        size_t j = (size_t(n) * C + c) * p.HW + i;
        dx[j] = T(g * double(dy[j]) + b2 * double(x[j]) + c2);
      }
  }
}

}  // namespace vkwb::ref
