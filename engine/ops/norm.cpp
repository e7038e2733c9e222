// Normalisation layers composed from primitive ops: batch norm (batch statistics in training,
// running statistics in evaluation) and AlexNet's local response norm.
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/launch.h"

namespace vkwb {
using namespace detail;

Tensor batch_norm(const Tensor& x, Tensor& running_mean, Tensor& running_var, const Tensor& weight, const Tensor& bias,
                  bool training, float momentum, float eps) {
  check_float(x, "batch_norm");
  if (x.dim() != 2 && x.dim() != 4) throw Error("batch_norm: input must be [N, C] or [N, C, H, W], got " + x.shape().str());
  int64_t N = x.size(0), C = x.size(1), HW = x.dim() == 4 ? x.size(2) * x.size(3) : 1;
  for (const Tensor* t : std::initializer_list<const Tensor*>{&running_mean, &running_var, &weight, &bias})
    if (t->defined() && (t->dim() != 1 || t->size(0) != C))
      throw Error("batch_norm: parameter " + t->shape().str() + " does not match " + std::to_string(C) + " channels");
  Tensor x3 = x.reshape({N, C, HW});
  Tensor mu, var;
  if (training) {
    if (N * HW < 2) throw Error("batch_norm: training needs more than one value per channel, got input " + x.shape().str());
    mu = mean(mean(x3, 2, true), 0, true);                       // [1, C, 1]
    var = mean(mean(square(sub(x3, mu)), 2, true), 0, true);     // biased, as used for normalising
    if (running_mean.defined()) {
      NoGradGuard ng;
      float n = float(N * HW);
      Tensor rm = add(mul(running_mean, 1.f - momentum), mul(mu.detach().reshape({C}), momentum));
      Tensor rv = add(mul(running_var, 1.f - momentum), mul(var.detach().reshape({C}), momentum * n / (n - 1.f)));
      copy_(running_mean, rm);
      copy_(running_var, rv);
    }
  } else {
    if (!running_mean.defined()) throw Error("batch_norm: evaluation needs running statistics");
    mu = running_mean.reshape({1, C, 1});
    var = running_var.reshape({1, C, 1});
  }
  Tensor y = div(sub(x3, mu), sqrt(add(var, eps)));
  if (weight.defined()) y = mul(y, weight.reshape({1, C, 1}));
  if (bias.defined()) y = add(y, bias.reshape({1, C, 1}));
  return y.reshape(x.shape());
}

Tensor local_response_norm(const Tensor& x, int size, float alpha, float beta, float k) {
  if (x.dim() != 4) throw Error("local_response_norm: input must be [N, C, H, W], got " + x.shape().str());
  if (size < 1) throw Error("local_response_norm: size must be >= 1");
  int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  // Average of x^2 over a window of `size` channels (zero padded, divided by size), as PyTorch.
  Tensor sq = square(x).reshape({N, 1, C, HW});
  Pool2dOptions o;
  o.kh = size;
  o.kw = 1;
  o.stride_h = 1;
  o.stride_w = 1;
  o.pad_h = size / 2;
  o.count_include_pad = true;
  Tensor avg = avg_pool2d(sq, o);
  if (avg.size(2) != C) avg = narrow(avg, 2, 0, C);
  Tensor div_ = pow(affine(avg.reshape(x.shape()), alpha, k), beta);
  return div(x, div_);
}

}  // namespace vkwb
