// VGG (Simonyan & Zisserman 2015), configurations A (11 layers) and D (16 layers), adapted to small
// inputs as is usual for CIFAR: 3x3 convs with padding 1 (+ BatchNorm when asked), ReLU, 2x2 max-pools
// -- except pools that would shrink the map below 1x1, which are dropped (28x28 keeps 4 of the 5:
// 28-14-7-3-1) -- then a global average pool and a small classifier 512 -> 512 -> classes with
// dropout instead of the 4096-wide one. Initialisation as torchvision: kaiming-normal (fan_out, ReLU)
// convs with zero bias, Linear ~ N(0, 0.01) with zero bias, BatchNorm weight 1 bias 0.
#include <vector>

#include "nets/models/common.h"

namespace vkwb::nn::models {
using namespace detail;

namespace {

constexpr int M = 0;   // max-pool marker in a configuration
const std::vector<int> kConfigA = {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
const std::vector<int> kConfigD = {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};

ModulePtr vgg(ModuleContext& ctx, const ModelOptions& o, const std::vector<int>& config, bool bn, const char* name) {
  check_image_size(name, o, 2);
  auto features = std::make_shared<Sequential>();
  int c = o.in_channels, s = o.image_size;
  for (int v : config) {
    if (v == M) {
      if (s / 2 >= 1) {
        features->add(std::make_shared<MaxPool2d>(2));
        s /= 2;
      }
      continue;
    }
    int out = scaled(v, o.width);
    features->add(conv(ctx, c, out, 3, 1));   // torchvision keeps the conv bias before BN too
    if (bn) features->add(std::make_shared<BatchNorm2d>(ctx, out));
    features->add(ReLU());
    c = out;
  }
  int hidden = scaled(512, o.width);
  auto classifier = std::make_shared<Sequential>();
  if (o.dropout > 0) classifier->add(std::make_shared<Dropout>(ctx, o.dropout));
  classifier->add(std::make_shared<Linear>(ctx, c, hidden)).add(ReLU());
  if (o.dropout > 0) classifier->add(std::make_shared<Dropout>(ctx, o.dropout));
  classifier->add(std::make_shared<Linear>(ctx, hidden, o.num_classes));
  auto net = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      features, std::make_shared<AdaptiveAvgPool2d>(1, 1), std::make_shared<Flatten>(), classifier});
  init_weights(*net, ctx, {.conv = InitScheme::Conv::kaiming_fan_out, .conv_bias_zero = true,
                           .linear_normal_std = 0.01f, .linear_bias_zero = true});
  return net;
}

}  // namespace

ModulePtr vgg11(ModuleContext& ctx, const ModelOptions& o) { return vgg(ctx, o, kConfigA, o.batch_norm, "vgg11"); }
ModulePtr vgg16(ModuleContext& ctx, const ModelOptions& o) { return vgg(ctx, o, kConfigD, o.batch_norm, "vgg16"); }
ModulePtr vgg11_bn(ModuleContext& ctx, const ModelOptions& o) { return vgg(ctx, o, kConfigA, true, "vgg11_bn"); }
ModulePtr vgg16_bn(ModuleContext& ctx, const ModelOptions& o) { return vgg(ctx, o, kConfigD, true, "vgg16_bn"); }

}  // namespace vkwb::nn::models
