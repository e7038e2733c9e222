// HostQNet: a batch-1 forward pass of a small Q-network in plain host loops, over a copy of the
// weights. Acting is one observation at a time and latency-bound: on lavapipe a device forward
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
  void forward(const float* x, float* q) {
    const float* cur = x;
    int n = 0;
    for (auto& l : trunk_) cur = run(l, cur, buf_trunk_, n);
    if (!dueling()) {
      const float* out = cur;
      for (auto& l : q_) out = run(l, out, buf_a_, n);
      std::copy(out, out + num_actions(), q);
      return;
    }
    const float* a = cur;
    int na = n;
    for (auto& l : q_) a = run(l, a, buf_a_, na);
    const float* v = cur;
    int nv = n;
    for (auto& l : v_) v = run(l, v, buf_v_, nv);
    const int A = num_actions();
    float mean = 0.f;
    for (int i = 0; i < A; ++i) mean += a[i];
    mean /= float(A);
    for (int i = 0; i < A; ++i) q[i] = v[0] + a[i] - mean;
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

  // Runs one layer; the output lives in one of two ping-pong buffers of `bufs`.
  const float* run(const Layer& l, const float* in, std::vector<float> (&bufs)[2], int& which) {
    std::vector<float>& out = bufs[which ^= 1];
    out.resize(size_t(l.outputs()));
    if (l.conv) {
      // out[oy][ox][oc] = b[oc] + sum_{c,ky,kx} in[c][oy+ky-pad][ox+kx-pad] * w[c][ky][kx][oc]
      for (int p = 0; p < l.out_h * l.out_w; ++p) std::copy(l.b.begin(), l.b.end(), out.begin() + size_t(p) * l.out_c);
      for (int c = 0; c < l.in_c; ++c)
        for (int y = 0; y < l.in_h; ++y)
          for (int x = 0; x < l.in_w; ++x) {
            const float v = in[(size_t(c) * l.in_h + y) * l.in_w + x];
            if (v == 0.f) continue;
            for (int ky = 0; ky < l.k; ++ky) {
              const int oy = y - ky + l.pad;
              if (oy < 0 || oy >= l.out_h) continue;
              for (int kx = 0; kx < l.k; ++kx) {
                const int ox = x - kx + l.pad;
                if (ox < 0 || ox >= l.out_w) continue;
                const float* w = l.w.data() + ((size_t(c) * l.k + ky) * l.k + kx) * l.out_c;
                float* o = out.data() + (size_t(oy) * l.out_w + ox) * l.out_c;
                for (int oc = 0; oc < l.out_c; ++oc) o[oc] += v * w[oc];
              }
            }
          }
    } else {
      std::copy(l.b.begin(), l.b.end(), out.begin());
      float* o = out.data();
      for (int k = 0; k < l.in; ++k) {
        const float v = in[k];
        if (v == 0.f) continue;
        const float* w = l.w.data() + size_t(k) * l.out_c;
        for (int j = 0; j < l.out_c; ++j) o[j] += v * w[j];
      }
    }
    if (l.relu)
      for (auto& v : out) v = v > 0.f ? v : 0.f;
    return out.data();
  }

  std::vector<Layer> trunk_, q_, v_;
  std::vector<float> buf_trunk_[2], buf_a_[2], buf_v_[2], q_out_;
};

}  // namespace vkwb::agents

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
