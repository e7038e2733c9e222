// HostQNet: the forward pass of a small Q-network in plain host loops, over a copy of the weights:
// for acting (batch 1) and, on CPU drivers, the DQN's TD targets (the batch's next observations).
// Acting is one observation at a time and latency-bound: on lavapipe a device forward
// costs a submit and a wait (~100+ us) however small the net, while these loops take a few us
// (docs/DQN.md has the measurements). Header-only so that bench/ can use it without linking agents.
//
// Layers: 3x3-style conv (stride 1, zero padding) and linear, each optionally followed by ReLU, then
// either one head (Q) or dueling heads (V and A, combined as V + A - mean(A)).
// Layouts chosen for the loops, not for PyTorch: conv activations are HWC and weights are stored
// input-major, so every inner loop runs over contiguous output channels and skips zero inputs
// (MinAtar observations are sparse 0/1 planes and half of all ReLU outputs are zero).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

// The build's -O2 does not vectorise these loops (GCC's cheap cost model); -O3 makes the forward
// pass 2.5x faster (31 -> 12 us for the MinAtar net). Scoped to this header.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("O3")
#endif

namespace vkwb::agents {

class HostQNet {
 public:
  struct Layer {
    bool conv = false, relu = true;
    int in_c = 0, in_h = 0, in_w = 0, out_c = 0, k = 0, pad = 0;  // conv (out_c also: linear out)
    int out_h = 0, out_w = 0;
    int in = 0;               // linear: inputs
    bool hwc_input = false;   // linear after a conv: inputs arrive HWC, PyTorch flattens CHW
    std::vector<float> w;     // conv: [C][KH][KW][OC]; linear: [in][out]
    std::vector<float> b;
    int outputs() const { return conv ? out_h * out_w * out_c : out_c; }
  };

  // Builders, in forward order. A head is a chain of linear layers; the last one has no ReLU.
  void add_conv(int c, int h, int w, int out_c, int k, int pad) {
    Layer l;
    l.conv = true;
    l.in_c = c, l.in_h = h, l.in_w = w, l.out_c = out_c, l.k = k, l.pad = pad;
    l.out_h = h + 2 * pad - k + 1, l.out_w = w + 2 * pad - k + 1;
    l.w.resize(size_t(c) * k * k * out_c), l.b.resize(size_t(out_c));
    trunk_.push_back(std::move(l));
  }
  // head: 0 trunk, 1 Q (or advantage), 2 value.
  void add_linear(int head, int in, int out, bool relu) {
    Layer l;
    l.in = in, l.out_c = out, l.relu = relu;
    std::vector<Layer>& chain = head == 0 ? trunk_ : head == 1 ? q_ : v_;
    const Layer* prev = !chain.empty() ? &chain.back() : (!trunk_.empty() ? &trunk_.back() : nullptr);
    l.hwc_input = prev && prev->conv;
    l.w.resize(size_t(in) * out), l.b.resize(size_t(out));
    chain.push_back(std::move(l));
  }
  size_t num_layers() const { return trunk_.size() + q_.size() + v_.size(); }
  Layer& layer(size_t i) {
    if (i < trunk_.size()) return trunk_[i];
    i -= trunk_.size();
    if (i < q_.size()) return q_[i];
    return v_[i - q_.size()];
  }
  const Layer& layer(size_t i) const { return const_cast<HostQNet*>(this)->layer(i); }
  bool dueling() const { return !v_.empty(); }
  int num_actions() const { return q_.empty() ? 0 : q_.back().out_c; }

  // Copies PyTorch-layout weights in: conv [OC][C][KH][KW], linear [out][in] (inputs CHW-ordered).
  void set_weights(size_t i, const float* w, const float* b) {
    Layer& l = layer(i);
    if (l.conv) {
      for (int oc = 0; oc < l.out_c; ++oc)
        for (int c = 0; c < l.in_c; ++c)
          for (int ky = 0; ky < l.k; ++ky)
            for (int kx = 0; kx < l.k; ++kx)
              l.w[((size_t(c) * l.k + ky) * l.k + kx) * l.out_c + oc] = w[((size_t(oc) * l.in_c + c) * l.k + ky) * l.k + kx];
    } else {
      const Layer* conv = l.hwc_input ? &trunk_[conv_index()] : nullptr;
      // A transpose in blocks of 16 rows: 16 read streams, contiguous writes (a plain loop over
      // the 128 KB+ matrix misses the cache on every write and was 10x slower).
      constexpr int kBlock = 16;
      for (int o0 = 0; o0 < l.out_c; o0 += kBlock) {
        const int o1 = std::min(l.out_c, o0 + kBlock);
        for (int k = 0; k < l.in; ++k) {   // k in PyTorch's (CHW) order: every row read in sequence
          float* dst = l.w.data() + size_t(chw_to_hwc(conv, k)) * l.out_c;
          for (int o = o0; o < o1; ++o) dst[o] = w[size_t(o) * l.in + k];
        }
      }
    }
    std::copy(b, b + l.out_c, l.b.begin());
  }

  // q[num_actions()] from one observation, given as CHW floats.
  void forward(const float* x, float* q) { forward_batch(x, 1, q); }

  // q[n][num_actions()] from n observations (each CHW floats, one after the other); every row is
  // the value forward() gives it, bit for bit (each observation's sums run in the same order).
  void forward_batch(const float* x, int n, float* q) {
    if (n <= 0) return;
    const int A = num_actions();
    const float* cur = x;
    int stride = trunk_.empty() ? (q_.empty() ? 0 : q_.front().in) : input_size(trunk_.front()), which = 0;
    for (auto& l : trunk_) cur = run(l, cur, stride, n, buf_trunk_, which), stride = l.outputs();
    if (!dueling()) {
      const float* out = cur;
      int s = stride, w = which;
      for (auto& l : q_) out = run(l, out, s, n, buf_a_, w), s = l.outputs();
      std::copy(out, out + size_t(n) * size_t(A), q);   // the last layer's outputs are A apart
      return;
    }
    const float* a = cur;
    int sa = stride, wa = which;
    for (auto& l : q_) a = run(l, a, sa, n, buf_a_, wa), sa = l.outputs();
    const float* v = cur;
    int sv = stride, wv = which;
    for (auto& l : v_) v = run(l, v, sv, n, buf_v_, wv), sv = l.outputs();
    for (int g = 0; g < n; ++g) {
      const float* ag = a + size_t(g) * A;
      float mean = 0.f;
      for (int i = 0; i < A; ++i) mean += ag[i];
      mean /= float(A);
      for (int i = 0; i < A; ++i) q[size_t(g) * A + i] = v[g] + ag[i] - mean;
    }
  }

  // The greedy action: the first index of the largest Q (PyTorch's argmax tie rule).
  int greedy(const float* x) {
    q_out_.resize(size_t(num_actions()));
    forward(x, q_out_.data());
    return int(std::max_element(q_out_.begin(), q_out_.end()) - q_out_.begin());
  }

 private:
  size_t conv_index() const {
    for (size_t i = trunk_.size(); i-- > 0;)
      if (trunk_[i].conv) return i;
    throw std::logic_error("HostQNet: no conv layer");
  }
  // PyTorch's CHW flat index k -> our HWC index.
  static int chw_to_hwc(const Layer* conv, int k) {
    if (!conv) return k;
    const int hw = conv->out_h * conv->out_w;
    return (k % hw) * conv->out_c + k / hw;
  }

  static constexpr int kBlockOut = 32;   // a linear layer's outputs summed in registers at a time
  // Four floats in one SSE register (GCC/Clang vector extension). Eight-float vectors were 4.8x
  // slower on the baseline x86-64 ISA (lowered through memory), so four.
  using F4 = float __attribute__((vector_size(16)));
  static F4 load4(const float* p) {
    F4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store4(float* p, F4 v) { std::memcpy(p, &v, sizeof v); }

  // o[0..n) += v * w[0..n): four at a time, then the rest one by one (the same value per element).
  static void axpy(float* o, const float* w, float v, int n) {
    const F4 vv = {v, v, v, v};
    int j = 0;
    for (; j + 4 <= n; j += 4) store4(o + j, load4(o + j) + vv * load4(w + j));
    for (; j < n; ++j) o[j] += v * w[j];
  }
  static int input_size(const Layer& l) { return l.conv ? l.in_c * l.in_h * l.in_w : l.in; }

  // Runs one layer on G inputs `stride` floats apart; the G outputs (l.outputs() floats apart)
  // live in one of two ping-pong buffers of `bufs`.
  const float* run(const Layer& l, const float* in, int stride, int G, std::vector<float> (&bufs)[2], int& which) {
    std::vector<float>& buf = bufs[which ^= 1];
    const size_t no = size_t(l.outputs());
    buf.resize(no * size_t(G));
    if (l.conv) {
      // out[oy][ox][oc] = b[oc] + sum_{c,ky,kx} in[c][oy+ky-pad][ox+kx-pad] * w[c][ky][kx][oc]
      for (int g = 0; g < G; ++g) {
        const float* src = in + size_t(g) * size_t(stride);
        float* out = buf.data() + size_t(g) * no;
        for (int p = 0; p < l.out_h * l.out_w; ++p) std::copy(l.b.begin(), l.b.end(), out + size_t(p) * l.out_c);
        for (int c = 0; c < l.in_c; ++c)
          for (int y = 0; y < l.in_h; ++y)
            for (int x = 0; x < l.in_w; ++x) {
              const float v = src[(size_t(c) * l.in_h + y) * l.in_w + x];
              if (v == 0.f) continue;
              for (int ky = 0; ky < l.k; ++ky) {
                const int oy = y - ky + l.pad;
                if (oy < 0 || oy >= l.out_h) continue;
                for (int kx = 0; kx < l.k; ++kx) {
                  const int ox = x - kx + l.pad;
                  if (ox < 0 || ox >= l.out_w) continue;
                  axpy(out + (size_t(oy) * l.out_w + ox) * l.out_c, l.w.data() + ((size_t(c) * l.k + ky) * l.k + kx) * l.out_c,
                       v, l.out_c);
                }
              }
            }
      }
    } else {
      // Per output: the bias, then the nonzero inputs in ascending k. The nonzero inputs are
      // listed first (MinAtar planes are sparse, half the ReLU outputs are zero), then each block
      // of kBlockOut outputs is summed in vector registers over the whole list (the DQN's 32 TD
      // targets 370 -> 185 us, docs/PERFORMANCE.md); a loop over all l.out_c outputs per input
      // loaded and stored every output once per input.
      nz_idx_.resize(size_t(l.in));
      nz_val_.resize(size_t(l.in));
      for (int g = 0; g < G; ++g) {
        const float* src = in + size_t(g) * size_t(stride);
        int nnz = 0;
        for (int k = 0; k < l.in; ++k) {   // branch-free compaction
          nz_idx_[size_t(nnz)] = k;
          nz_val_[size_t(nnz)] = src[k];
          nnz += src[k] != 0.f;
        }
        float* out = buf.data() + size_t(g) * no;
        int j0 = 0;
        for (; j0 + kBlockOut <= l.out_c; j0 += kBlockOut) {
          constexpr int R = kBlockOut / 4;
          F4 acc[R];
          for (int r = 0; r < R; ++r) acc[r] = load4(l.b.data() + j0 + 4 * r);
          const float* wb = l.w.data() + j0;
          for (int t = 0; t < nnz; ++t) {
            const float v = nz_val_[size_t(t)];
            const F4 vv = {v, v, v, v};
            const float* w = wb + size_t(nz_idx_[size_t(t)]) * size_t(l.out_c);
            for (int r = 0; r < R; ++r) acc[r] += vv * load4(w + 4 * r);
          }
          for (int r = 0; r < R; ++r) store4(out + j0 + 4 * r, acc[r]);
        }
        for (int j = j0; j < l.out_c; ++j) {   // the last out_c % kBlockOut outputs
          float a = l.b[size_t(j)];
          for (int t = 0; t < nnz; ++t) a += nz_val_[size_t(t)] * l.w[size_t(nz_idx_[size_t(t)]) * size_t(l.out_c) + size_t(j)];
          out[j] = a;
        }
      }
    }
    if (l.relu)
      for (auto& v : buf) v = v > 0.f ? v : 0.f;
    return buf.data();
  }

  std::vector<Layer> trunk_, q_, v_;
  std::vector<float> buf_trunk_[2], buf_a_[2], buf_v_[2], q_out_;
  std::vector<int> nz_idx_;
  std::vector<float> nz_val_;
};

}  // namespace vkwb::agents

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
