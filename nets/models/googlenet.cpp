// GoogLeNet / Inception v1 (Szegedy et al. 2015) adapted to 28x28 / 32x32 inputs.
//   Inception block: four branches concatenated along channels --
//     1x1 | 1x1 -> 3x3 | 1x1 -> 5x5 | 3x3 max-pool (stride 1) -> 1x1
//   with the paper's widths (Table 1) for 3a..5b, scaled by the width multiplier.
//   Stem: the paper's 7x7/2 conv + pools would reduce 224 by 8 before 3a; for small inputs we keep
//   its conv 64 -> conv 1x1 64 -> conv 3x3 192 part with a 3x3 first conv at stride 1 and a single
//   3x3/2 max-pool (32 -> 16, 28 -> 14); then 3a 3b, pool (-> 8 / 7), 4a..4e, pool (-> 4 / 4), 5a 5b,
//   global average pool, dropout (0.4 in the paper), FC. No auxiliary classifiers.
// Every conv is conv (no bias) + BatchNorm (eps 1e-3) + ReLU as in torchvision's GoogLeNet: the
// 2014 network trained without BN only with the auxiliary heads and a long schedule.
#include <algorithm>

#include "nets/models/common.h"

namespace vkwb::nn::models {
using namespace detail;

namespace {

ModulePtr basic_conv(ModuleContext& ctx, int in, int out, int k) {
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      conv(ctx, in, out, k, 1, /*bias=*/false), std::make_shared<BatchNorm2d>(ctx, out, 0.1f, 1e-3f), ReLU()});
}

struct InceptionWidths { int b1, b2_reduce, b2, b3_reduce, b3, b4; };

class Inception : public Module {
 public:
  Inception(ModuleContext& ctx, int in, const InceptionWidths& w) {
    b1_ = register_module("branch1", basic_conv(ctx, in, w.b1, 1));
    b2_ = register_module("branch2", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                         basic_conv(ctx, in, w.b2_reduce, 1), basic_conv(ctx, w.b2_reduce, w.b2, 3)}));
    b3_ = register_module("branch3", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                         basic_conv(ctx, in, w.b3_reduce, 1), basic_conv(ctx, w.b3_reduce, w.b3, 5)}));
    b4_ = register_module("branch4", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                         std::make_shared<MaxPool2d>(3, 1, 1), basic_conv(ctx, in, w.b4, 1)}));
    out_channels = w.b1 + w.b2 + w.b3 + w.b4;
  }
  Tensor forward(const Tensor& x) override {
    return concat({b1_->forward(x), b2_->forward(x), b3_->forward(x), b4_->forward(x)}, 1);
  }
  std::string type_name() const override { return "Inception(" + std::to_string(out_channels) + ")"; }
  int out_channels;

 private:
  ModulePtr b1_, b2_, b3_, b4_;
};

}  // namespace

ModulePtr googlenet(ModuleContext& ctx, const ModelOptions& o) {
  check_image_size("googlenet", o, 8);
  auto w = [&](int c) { return scaled(c, o.width); };
  auto net = std::make_shared<Sequential>();
  net->add(basic_conv(ctx, o.in_channels, w(64), 3))
      .add(basic_conv(ctx, w(64), w(64), 1))
      .add(basic_conv(ctx, w(64), w(192), 3))
      .add(std::make_shared<MaxPool2d>(3, 2, 1));
  int c = w(192);
  auto block = [&](int b1, int b2r, int b2, int b3r, int b3, int b4) {
    auto m = std::make_shared<Inception>(ctx, c, InceptionWidths{w(b1), w(b2r), w(b2), w(b3r), w(b3), w(b4)});
    c = m->out_channels;
    net->add(m);
  };
  block(64, 96, 128, 16, 32, 32);      // 3a
  block(128, 128, 192, 32, 96, 64);    // 3b
  net->add(std::make_shared<MaxPool2d>(3, 2, 1));
  block(192, 96, 208, 16, 48, 64);     // 4a
  block(160, 112, 224, 24, 64, 64);    // 4b
  block(128, 128, 256, 24, 64, 64);    // 4c
  block(112, 144, 288, 32, 64, 64);    // 4d
  block(256, 160, 320, 32, 128, 128);  // 4e
  net->add(std::make_shared<MaxPool2d>(3, 2, 1));
  block(256, 160, 320, 32, 128, 128);  // 5a
  block(384, 192, 384, 48, 128, 128);  // 5b
  net->add(std::make_shared<AdaptiveAvgPool2d>(1, 1)).add(std::make_shared<Flatten>());
  if (o.dropout > 0) net->add(std::make_shared<Dropout>(ctx, std::min(o.dropout, 0.4f)));
  net->add(std::make_shared<Linear>(ctx, c, o.num_classes));
  // torchvision: convs and the FC ~ truncated N(0, 0.01); we use kaiming-normal convs (fan_in)
  // instead, which trains without the auxiliary heads; BN weight 1, bias 0.
  init_weights(*net, ctx, {.conv = InitScheme::Conv::kaiming_fan_in, .conv_bias_zero = true});
  return net;
}

}  // namespace vkwb::nn::models
