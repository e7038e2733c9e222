// The model zoo: classic classifiers adapted to 28x28 / 32x32 inputs, with a width multiplier so
// the big ones fit a small machine. `vkwb models` lists them with parameter counts.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "nets/layers.h"

namespace vkwb::nn::models {

struct ModelOptions {
  int in_channels = 1;
  int image_size = 28;      // square inputs: 28 (Fashion-MNIST) or 32 (CIFAR-10)
  int num_classes = 10;
  float width = 1.f;        // channel / unit multiplier
  bool batch_norm = false;  // VGG: BN after every conv
  float dropout = 0.5f;     // classifier dropout where the architecture has it
  int depth = 0;            // ResNet / DenseNet depth (0: the variant's default)
};

using Factory = std::function<ModulePtr(ModuleContext&, const ModelOptions&)>;
struct ModelInfo {
  std::string name, description;
  Factory make;
};

const std::vector<ModelInfo>& registry();
ModulePtr make_model(const std::string& name, ModuleContext& ctx, const ModelOptions& o);
std::vector<std::string> model_names();

// Factories (one file each under nets/models/).
ModulePtr mlp(ModuleContext& ctx, const ModelOptions& o);
ModulePtr lenet5(ModuleContext& ctx, const ModelOptions& o);
ModulePtr alexnet(ModuleContext& ctx, const ModelOptions& o);
ModulePtr vgg11(ModuleContext& ctx, const ModelOptions& o);      // BN if o.batch_norm
ModulePtr vgg16(ModuleContext& ctx, const ModelOptions& o);
ModulePtr vgg11_bn(ModuleContext& ctx, const ModelOptions& o);   // always BN
ModulePtr vgg16_bn(ModuleContext& ctx, const ModelOptions& o);
ModulePtr googlenet(ModuleContext& ctx, const ModelOptions& o);
ModulePtr resnet20(ModuleContext& ctx, const ModelOptions& o);   // o.depth = 6n+2: 20 (default), 32, 44, 56, 110
ModulePtr resnet18(ModuleContext& ctx, const ModelOptions& o);
ModulePtr resnet50(ModuleContext& ctx, const ModelOptions& o);
ModulePtr densenet(ModuleContext& ctx, const ModelOptions& o);   // DenseNet-BC, k = 12, o.depth = 6n+4 (default 40)

int scaled(int channels, float width);   // max(1, round(channels * width))

}  // namespace vkwb::nn::models
