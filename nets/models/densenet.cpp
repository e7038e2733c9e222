// DenseNet-BC (Huang et al. 2017), the CIFAR variant: a 3x3 stem conv with 2k channels, three dense
// blocks of n = (depth - 4) / 6 bottleneck layers each
//   BN - ReLU - 1x1 conv (4k) - BN - ReLU - 3x3 conv (k), output concatenated to the input,
// joined by transitions BN - ReLU - 1x1 conv (compression 0.5) - 2x2 average pool, then
// BN - ReLU - global average pool - FC. Growth rate k = 12 (scaled by the width multiplier).
// Default depth 40 (n = 6, 176K parameters on CIFAR): the paper's smallest BC net is depth 100 (0.8M,
// ~0.3 GFLOP per 32x32 image), too slow to train on a small CPU; pass depth = 100 for it.
// Initialisation as torchvision: kaiming-normal convs (fan_in), BN weight 1 bias 0, Linear bias 0.
#include "nets/models/common.h"

namespace vkwb::nn::models {
using namespace detail;

namespace {

std::shared_ptr<Sequential> bn_relu_conv(ModuleContext& ctx, int in, int out, int k) {
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{std::make_shared<BatchNorm2d>(ctx, in), ReLU(),
                                                                       conv(ctx, in, out, k, 1, /*bias=*/false)});
}

class DenseLayer : public Module {
 public:
  DenseLayer(ModuleContext& ctx, int in, int growth) {
    body_ = register_module("body", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                        bn_relu_conv(ctx, in, 4 * growth, 1), bn_relu_conv(ctx, 4 * growth, growth, 3)}));
  }
  Tensor forward(const Tensor& x) override { return concat({x, body_->forward(x)}, 1); }
  std::string type_name() const override { return "DenseLayer"; }

 private:
  ModulePtr body_;
};

}  // namespace

ModulePtr densenet(ModuleContext& ctx, const ModelOptions& o) {
  check_image_size("densenet", o, 8);
  int depth = o.depth ? o.depth : 40;
  if (depth < 10 || (depth - 4) % 6)
    throw Error("densenet: DenseNet-BC depth must be 6n+4 (40, 100, 190, ...), got " + std::to_string(depth));
  int n = (depth - 4) / 6, k = scaled(12, o.width);
  auto net = std::make_shared<Sequential>();
  int c = 2 * k;
  net->add(conv(ctx, o.in_channels, c, 3, 1, /*bias=*/false));
  for (int block = 0; block < 3; ++block) {
    auto dense = std::make_shared<Sequential>();
    for (int i = 0; i < n; ++i, c += k) dense->add(std::make_shared<DenseLayer>(ctx, c, k));
    net->add(dense);
    if (block < 2) {
      int out = c / 2;
      net->add(std::make_shared<Sequential>(std::initializer_list<ModulePtr>{bn_relu_conv(ctx, c, out, 1),
                                                                             std::make_shared<AvgPool2d>(2)}));
      c = out;
    }
  }
  net->add(std::make_shared<BatchNorm2d>(ctx, c)).add(ReLU())
      .add(std::make_shared<AdaptiveAvgPool2d>(1, 1)).add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(ctx, c, o.num_classes));
  init_weights(*net, ctx, {.conv = InitScheme::Conv::kaiming_fan_in, .conv_bias_zero = true, .linear_bias_zero = true});
  return net;
}

}  // namespace vkwb::nn::models
