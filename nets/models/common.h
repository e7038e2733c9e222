// Helpers shared by the model-zoo files: short constructors for the layers every model uses and
// the initialisation schemes of the reference implementations (torchvision / the papers), applied
// by walking a finished module tree. Internal to nets/models/.
#pragma once
#include <functional>
#include <memory>

#include "nets/models/models.h"

namespace vkwb::nn::models::detail {

// Conv2d with "same" padding (k / 2) unless `padding` is given.
std::shared_ptr<Conv2d> conv(ModuleContext& ctx, int in, int out, int kernel, int stride = 1, bool bias = true,
                             int padding = -1);

// Visits `m` and every descendant, parents first.
void for_each_module(Module& m, const std::function<void(Module&)>& fn);

struct InitScheme {
  enum class Conv { keep, kaiming_fan_in, kaiming_fan_out } conv = Conv::kaiming_fan_out;  // gain sqrt(2) (ReLU)
  bool conv_bias_zero = true;
  float linear_normal_std = 0.f;   // > 0: Linear weights ~ N(0, std) (VGG); 0: keep PyTorch's default
  bool linear_bias_zero = false;
};
// Re-draws the weights of every Conv2d / Linear under `m` (BatchNorm already starts at weight 1,
// bias 0, as in PyTorch). Seeds come from ctx, so the same seed gives the same model.
void init_weights(Module& m, ModuleContext& ctx, const InitScheme& s);

// Spatial size after a k×k window with stride s and padding p (PyTorch's floor rule).
inline int out_size(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

void check_image_size(const char* model, const ModelOptions& o, int min_size);

}  // namespace vkwb::nn::models::detail
