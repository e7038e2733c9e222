// AlexNet (Krizhevsky, Sutskever & Hinton 2012) adapted to 28x28 / 32x32 inputs.
//   paper (224x224): conv 96@11x11/4 - LRN - pool 3/2 - conv 256@5x5 - LRN - pool 3/2 - conv 384@3x3 -
//                    conv 384@3x3 - conv 256@3x3 - pool 3/2 - fc 4096 - fc 4096 - fc 1000, dropout 0.5
//   here: the first conv is 5x5 with stride 1 (an 11x11/4 stem would leave nothing of a 32x32 image),
//   the widths are torchvision's single-tower ones (64, 192, 384, 256, 256), the overlapping 3x3/2
//   pools get padding 1 so both 28 and 32 end at 4x4, an adaptive average pool makes that 2x2, and
//   the two dropout FC layers have 1024 units (4096 would be 30M parameters for 10 classes).
// LRN: size 5, beta 0.75, k 2 as in the paper; alpha 1e-4 applies to the mean of the squares over the
// window (PyTorch's and Caffe's convention), i.e. the paper's alpha / 5.
#include "nets/models/common.h"

namespace vkwb::nn::models {
using namespace detail;

ModulePtr alexnet(ModuleContext& ctx, const ModelOptions& o) {
  check_image_size("alexnet", o, 8);
  int c1 = scaled(64, o.width), c2 = scaled(192, o.width), c3 = scaled(384, o.width), c4 = scaled(256, o.width),
      c5 = scaled(256, o.width), fc = scaled(1024, o.width);
  int s = o.image_size;
  for (int i = 0; i < 3; ++i) s = out_size(s, 3, 2, 1);
  int pooled = s % 2 == 0 ? 2 : 1;   // 28 and 32 both reach 4x4 -> 2x2
  auto features = std::make_shared<Sequential>();
  features->add(conv(ctx, o.in_channels, c1, 5)).add(ReLU())
      .add(std::make_shared<LocalResponseNorm>(5, 1e-4f, 0.75f, 2.f))
      .add(std::make_shared<MaxPool2d>(3, 2, 1))
      .add(conv(ctx, c1, c2, 5)).add(ReLU())
      .add(std::make_shared<LocalResponseNorm>(5, 1e-4f, 0.75f, 2.f))
      .add(std::make_shared<MaxPool2d>(3, 2, 1))
      .add(conv(ctx, c2, c3, 3)).add(ReLU())
      .add(conv(ctx, c3, c4, 3)).add(ReLU())
      .add(conv(ctx, c4, c5, 3)).add(ReLU())
      .add(std::make_shared<MaxPool2d>(3, 2, 1));
  auto classifier = std::make_shared<Sequential>();
  if (o.dropout > 0) classifier->add(std::make_shared<Dropout>(ctx, o.dropout));
  classifier->add(std::make_shared<Linear>(ctx, c5 * pooled * pooled, fc)).add(ReLU());
  if (o.dropout > 0) classifier->add(std::make_shared<Dropout>(ctx, o.dropout));
  classifier->add(std::make_shared<Linear>(ctx, fc, fc)).add(ReLU()).add(std::make_shared<Linear>(ctx, fc, o.num_classes));
  // PyTorch's default initialisation (as torchvision's AlexNet), kept as constructed.
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      features, std::make_shared<AdaptiveAvgPool2d>(pooled, pooled), std::make_shared<Flatten>(), classifier});
}

}  // namespace vkwb::nn::models
