#include <cmath>

#include "nets/models/models.h"

namespace vkwb::nn::models {

int scaled(int channels, float width) { return std::max(1, int(std::lround(channels * width))); }

const std::vector<ModelInfo>& registry() {
  static const std::vector<ModelInfo> r = {
      {"mlp", "MLP 784-256-128-10, ReLU, dropout 0.2", mlp},
      {"lenet5", "LeNet-5: conv6-pool-conv16-pool-fc120-fc84", lenet5},
      {"alexnet", "AlexNet: 5 convs (5x5 stem), LRN, 3 max-pools, dropout FC 1024-1024", alexnet},
      {"vgg11", "VGG config A: 8 convs 64..512, max-pools, FC 512-512 (BN with --batch-norm)", vgg11},
      {"vgg11_bn", "VGG config A with BatchNorm after every conv", vgg11_bn},
      {"vgg16", "VGG config D: 13 convs 64..512, max-pools, FC 512-512 (BN with --batch-norm)", vgg16},
      {"vgg16_bn", "VGG config D with BatchNorm after every conv", vgg16_bn},
      {"googlenet", "GoogLeNet / Inception v1: 3x3 stem, 9 inception blocks (BN), global pool, FC", googlenet},
      {"resnet20", "CIFAR ResNet-20 (depth 6n+2): basic blocks 16/32/64, option-A shortcuts", resnet20},
      {"resnet18", "ResNet-18, CIFAR stem: basic blocks [2,2,2,2] 64..512, 1x1-conv shortcuts", resnet18},
      {"resnet50", "ResNet-50, CIFAR stem: bottlenecks [3,4,6,3] 256..2048, 1x1-conv shortcuts", resnet50},
      {"densenet", "DenseNet-BC (depth 6n+4, default 40), growth 12, compression 0.5", densenet},
  };
  return r;
}

std::vector<std::string> model_names() {
  std::vector<std::string> n;
  for (auto& m : registry()) n.push_back(m.name);
  return n;
}

ModulePtr make_model(const std::string& name, ModuleContext& ctx, const ModelOptions& o) {
  for (auto& m : registry())
    if (m.name == name) return m.make(ctx, o);
  std::string all;
  for (auto& n : model_names()) all += (all.empty() ? "" : ", ") + n;
  throw Error("unknown model '" + name + "' (" + all + ")");
}

}  // namespace vkwb::nn::models
