// LeNet-5 (LeCun et al. 1998) as in the PyTorch peer: conv 6@5x5 (pad 2 on 28x28) -> ReLU ->
// max-pool 2 -> conv 16@5x5 -> ReLU -> max-pool 2 -> FC 120 -> FC 84 -> FC classes.
// And a plain MLP: 784 -> 256 -> 128 -> classes with ReLU (and dropout).
#include "nets/models/models.h"

namespace vkwb::nn::models {

ModulePtr lenet5(ModuleContext& ctx, const ModelOptions& o) {
  int c1 = scaled(6, o.width), c2 = scaled(16, o.width);
  int pad = o.image_size == 28 ? 2 : 0;          // 28 -> 32-equivalent, as LeNet expects 32x32
  int s1 = (o.image_size + 2 * pad - 4) / 2;      // after conv1 + pool
  int s2 = (s1 - 4) / 2;                          // after conv2 + pool
  if (s2 < 1) throw Error("lenet5: image size " + std::to_string(o.image_size) + " is too small");
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Conv2d>(ctx, Conv2dOptions{.in = o.in_channels, .out = c1, .kernel = 5, .padding = pad}))
      .add(ReLU())
      .add(std::make_shared<MaxPool2d>(2))
      .add(std::make_shared<Conv2d>(ctx, Conv2dOptions{.in = c1, .out = c2, .kernel = 5}))
      .add(ReLU())
      .add(std::make_shared<MaxPool2d>(2))
      .add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(ctx, c2 * s2 * s2, scaled(120, o.width)))
      .add(ReLU())
      .add(std::make_shared<Linear>(ctx, scaled(120, o.width), scaled(84, o.width)))
      .add(ReLU())
      .add(std::make_shared<Linear>(ctx, scaled(84, o.width), o.num_classes));
  return net;
}

ModulePtr mlp(ModuleContext& ctx, const ModelOptions& o) {
  int in = o.in_channels * o.image_size * o.image_size;
  int h1 = scaled(256, o.width), h2 = scaled(128, o.width);
  auto net = std::make_shared<Sequential>();
  net->add(std::make_shared<Flatten>()).add(std::make_shared<Linear>(ctx, in, h1)).add(ReLU());
  if (o.dropout > 0) net->add(std::make_shared<Dropout>(ctx, std::min(o.dropout, 0.2f)));
  net->add(std::make_shared<Linear>(ctx, h1, h2)).add(ReLU());
  if (o.dropout > 0) net->add(std::make_shared<Dropout>(ctx, std::min(o.dropout, 0.2f)));
  net->add(std::make_shared<Linear>(ctx, h2, o.num_classes));
  return net;
}

}  // namespace vkwb::nn::models
