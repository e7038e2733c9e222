// Losses, composed from the primitive ops (so their gradients come from autograd). All return
// the mean over the batch, as PyTorch's default reduction does.
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>

namespace vkwb {
using namespace detail;

static void check_labels(const Tensor& x, const Tensor& labels, const char* op) {
  if (x.dim() != 2) throw Error(std::string(op) + ": expected [N, C] scores, got " + x.shape().str());
  if (labels.dtype() != DType::i32 || labels.dim() != 1 || labels.size(0) != x.size(0))
    throw Error(std::string(op) + ": labels must be int32 [" + std::to_string(x.size(0)) + "], got " +
                dtype_name(labels.dtype()) + " " + labels.shape().str());
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels) {
  check_labels(log_probs, labels, "nll_loss");
  Tensor picked = gather(log_probs, 1, labels.reshape({labels.size(0), 1}));
  return neg(mean(picked));
}

bool host_loss_enabled(const Tensor& logits) {
  static const bool off = [] {
    const char* e = std::getenv("VKWB_HOST_LOSS");   // 0: always the device ops (for A/B runs)
    return e && std::string(e) == "0";
  }();
  return !off && logits.dtype() == DType::f32 && logits.host_resident() && logits.device().runs_on_host_cores();
}

namespace {

// cross_entropy on the host, for logits the host wrote (a head of LinearExec::host layers on a
// CPU driver): one pass per row instead of five device ops forward and six backward, and no
// device round trip between the head's last layer and its backward. The row's log-sum-exp is
// accumulated in double; the loss is the mean over rows of
//   -(1 - eps) log p[y] - eps/C sum_j log p[j],
// and its gradient g/N (p - (1 - eps) onehot(y) - eps/C).
Tensor cross_entropy_host(const Tensor& logits, const Tensor& labels, float eps) {
  Device& dev = logits.device();
  const int N = int(logits.size(0)), C = int(logits.size(1));
  const float* z = logits.data_ready<float>();   // (resident: no wait)
  const int32_t* y = labels.data_ready<int32_t>();
  auto probs = std::make_shared<std::vector<float>>(size_t(N) * C);
  auto lab = std::make_shared<std::vector<int32_t>>(y, y + N);
  double total = 0;
  for (int i = 0; i < N; ++i) {
    const int32_t t = y[i];
    if (t < 0 || t >= C)
      throw Error("cross_entropy: label " + std::to_string(t) + " of row " + std::to_string(i) + " is outside [0, " +
                  std::to_string(C) + ")");
    const float* zi = z + size_t(i) * C;
    float m = zi[0];
    for (int j = 1; j < C; ++j) m = std::max(m, zi[j]);
    double s = 0;
    for (int j = 0; j < C; ++j) s += std::exp(double(zi[j]) - m);
    const double lse = double(m) + std::log(s);
    double row_sum = 0;
    for (int j = 0; j < C; ++j) {
      const double lp = double(zi[j]) - lse;
      row_sum += lp;
      (*probs)[size_t(i) * C + j] = float(std::exp(lp));
    }
    total += -(1.0 - eps) * (double(zi[t]) - lse) - (eps / C) * row_sum;
  }
  Tensor loss = Tensor::empty(Shape{}, dev, DType::f32);
  *loss.data<float>(true) = N > 0 ? float(total / N) : std::numeric_limits<float>::quiet_NaN();   // (the mean of nothing)
  if (needs_grad({logits})) {
    record("cross_entropy", loss, {logits}, [probs, lab, N, C, eps](const Tensor& g) {
      const float scale = *g.data_ready<float>() / float(N);
      Tensor dx = Tensor::empty({N, C}, g.device(), DType::f32);
      float* d = dx.data<float>(true);
      const float off = eps / float(C);
      for (int i = 0; i < N; ++i)
        for (int j = 0; j < C; ++j) {
          const size_t k = size_t(i) * C + j;
          d[k] = scale * ((*probs)[k] - off - (j == (*lab)[size_t(i)] ? 1.f - eps : 0.f));
        }
      return std::vector<Tensor>{dx};
    });
  }
  return loss;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, float label_smoothing) {
  check_labels(logits, labels, "cross_entropy");
  if (label_smoothing < 0.f || label_smoothing > 1.f) throw Error("cross_entropy: label smoothing must be in [0, 1]");
  if (host_loss_enabled(logits) && logits.size(1) > 0) return cross_entropy_host(logits, labels, label_smoothing);
  Tensor logp = log_softmax(logits, 1);
  Tensor loss = nll_loss(logp, labels);
  if (label_smoothing == 0.f) return loss;
  // (1 - eps) * nll + eps * mean over classes of -log p (PyTorch's definition).
  Tensor uniform = neg(mean(mean(logp, 1)));
  return add(mul(loss, 1.f - label_smoothing), mul(uniform, label_smoothing));
}

Tensor mse_loss(const Tensor& x, const Tensor& target) {
  if (x.shape() != target.shape()) throw Error(shape_mismatch("mse_loss", x.shape(), target.shape()));
  return mean(square(sub(x, target)));
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& target) {
  if (logits.shape() != target.shape()) throw Error(shape_mismatch("bce_with_logits", logits.shape(), target.shape()));
  // max(x, 0) - x*y + log(1 + exp(-|x|)): stable for any x.
  Tensor l = add(sub(relu(logits), mul(logits, target)), softplus(neg(abs(logits))));
  return mean(l);
}

Tensor huber_loss(const Tensor& x, const Tensor& target, float delta) {
  if (x.shape() != target.shape()) throw Error(shape_mismatch("huber_loss", x.shape(), target.shape()));
  if (delta <= 0.f) throw Error("huber_loss: delta must be > 0");
  // q = min(|d|, delta): 0.5 q^2 + delta (|d| - q)  (quadratic inside, linear outside)
  Tensor ad = abs(sub(x, target));
  Tensor q = clamp(ad, 0.f, delta);
  return mean(add(mul(square(q), 0.5f), mul(sub(ad, q), delta)));
}

Tensor multi_margin_loss(const Tensor& scores, const Tensor& labels, float margin) {
  check_labels(scores, labels, "multi_margin_loss");
  // PyTorch: sum_{j != y} max(0, margin - x_y + x_j) / C, averaged over the batch. The j == y
  // term equals max(0, margin) and is subtracted.
  int64_t C = scores.size(1);
  Tensor xy = gather(scores, 1, labels.reshape({labels.size(0), 1}));
  Tensor m = relu(add(sub(scores, xy), margin));
  Tensor per_row = add(sum(m, 1), -std::max(margin, 0.f));
  return mul(mean(per_row), 1.f / float(C));
}

}  // namespace vkwb
