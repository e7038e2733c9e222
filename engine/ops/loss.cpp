// Losses, composed from the primitive ops (so their gradients come from autograd). All return
// the mean over the batch, as PyTorch's default reduction does.
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"

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

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, float label_smoothing) {
  check_labels(logits, labels, "cross_entropy");
  if (label_smoothing < 0.f || label_smoothing > 1.f) throw Error("cross_entropy: label smoothing must be in [0, 1]");
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
