#include "nets/models/common.h"

#include "nets/init.h"

namespace vkwb::nn::models::detail {

std::shared_ptr<Conv2d> conv(ModuleContext& ctx, int in, int out, int kernel, int stride, bool bias, int padding) {
  return std::make_shared<Conv2d>(ctx, Conv2dOptions{.in = in, .out = out, .kernel = kernel, .stride = stride,
                                                     .padding = padding < 0 ? kernel / 2 : padding, .bias = bias});
}

void for_each_module(Module& m, const std::function<void(Module&)>& fn) {
  fn(m);
  for (auto& [name, child] : m.children()) for_each_module(*child, fn);
}

void init_weights(Module& root, ModuleContext& ctx, const InitScheme& s) {
  Device& dev = *ctx.device;
  for_each_module(root, [&](Module& m) {
    if (auto* c = dynamic_cast<Conv2d*>(&m); c && !dynamic_cast<ConvTranspose2d*>(&m)) {
      if (s.conv != InitScheme::Conv::keep) {
        Tensor& w = c->weight();
        copy_(w, init::kaiming_normal(w.shape(), dev, ctx.next_seed(), 1.4142135623730951,
                                      s.conv == InitScheme::Conv::kaiming_fan_in));
      }
      if (s.conv_bias_zero)
        for (auto& [n, t] : c->named_parameters())
          if (n == "bias") fill_(*t, 0.0);
    } else if (auto* l = dynamic_cast<Linear*>(&m)) {
      if (s.linear_normal_std > 0) copy_(l->weight(), init::normal(l->weight().shape(), dev, ctx.next_seed(), 0.0, s.linear_normal_std));
      if (s.linear_bias_zero && l->bias()) fill_(*l->bias(), 0.0);
    }
  });
}

void check_image_size(const char* model, const ModelOptions& o, int min_size) {
  if (o.image_size < min_size)
    throw Error(std::string(model) + ": image size " + std::to_string(o.image_size) + " is too small (at least " +
                std::to_string(min_size) + ")");
  if (o.in_channels < 1 || o.num_classes < 1)
    throw Error(std::string(model) + ": in_channels and num_classes must be >= 1");
}

}  // namespace vkwb::nn::models::detail
