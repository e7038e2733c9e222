#include <cmath>

#include "nets/models/models.h"

namespace vkwb::nn::models {

int scaled(int channels, float width) { return std::max(1, int(std::lround(channels * width))); }

const std::vector<ModelInfo>& registry() {
  static const std::vector<ModelInfo> r = {
      {"mlp", "MLP 784-256-128-10, ReLU, dropout 0.2", mlp},
      {"lenet5", "LeNet-5: conv6-pool-conv16-pool-fc120-fc84", lenet5},
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
