// Residual networks (He et al. 2016) with the CIFAR-style stem: a 3x3 conv at stride 1 and no
// max-pool, so 32x32 inputs go 32-16-8(-4) through the stages and 28x28 ones 28-14-7(-4).
//   resnet20 (and 32/44/56/110 via depth = 6n+2): the paper's CIFAR net, basic blocks, stages of
//     16/32/64 channels with n blocks each, option-A shortcuts (identity; when the shape changes,
//     stride-2 subsampling and zero-padded extra channels -- no parameters), as in the paper.
//   resnet18: basic blocks [2, 2, 2, 2], 64..512 channels;  resnet50: bottleneck blocks [3, 4, 6, 3],
//     64..512 (x4) channels with the stride on the 3x3 conv (torchvision's "v1.5"); both with option-B
//     shortcuts (1x1 conv + BN where the shape changes), as torchvision.
// Initialisation as torchvision: kaiming-normal convs (fan_out, ReLU), BN weight 1 bias 0, PyTorch's
// default Linear.
#include "nets/models/common.h"

namespace vkwb::nn::models {
using namespace detail;

namespace {

std::shared_ptr<Sequential> conv_bn(ModuleContext& ctx, int in, int out, int k, int stride) {
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      conv(ctx, in, out, k, stride, /*bias=*/false), std::make_shared<BatchNorm2d>(ctx, out)});
}

// Option A: y = x subsampled by `stride` (x[:, :, ::s, ::s]), with zero channels added on both sides.
class ZeroPadShortcut : public Module {
 public:
  ZeroPadShortcut(int in, int out, int stride) : in_(in), out_(out), stride_(stride) {}
  Tensor forward(const Tensor& x) override {
    Tensor y = x;
    if (stride_ > 1) {
      // A 1x1 average pool with stride s is exactly strided subsampling (also for odd sizes: 7 -> 4).
      Pool2dOptions p;
      p.kh = p.kw = 1;
      p.stride_h = p.stride_w = stride_;
      y = avg_pool2d(x, p);
    }
    int before = (out_ - in_) / 2, after = out_ - in_ - before;
    if (before == 0 && after == 0) return y;
    std::vector<Tensor> parts;
    Shape s = y.shape();
    if (before > 0) parts.push_back(Tensor::zeros({s[0], before, s[2], s[3]}, x.device()));
    parts.push_back(y);
    if (after > 0) parts.push_back(Tensor::zeros({s[0], after, s[2], s[3]}, x.device()));
    return concat(parts, 1);
  }
  std::string type_name() const override { return "ZeroPadShortcut(" + std::to_string(in_) + ", " + std::to_string(out_) + ")"; }

 private:
  int in_, out_, stride_;
};

enum class Shortcut { a_zero_pad, b_projection };

ModulePtr shortcut(ModuleContext& ctx, int in, int out, int stride, Shortcut kind) {
  if (in == out && stride == 1) return nullptr;
  if (kind == Shortcut::a_zero_pad) return std::make_shared<ZeroPadShortcut>(in, out, stride);
  return conv_bn(ctx, in, out, 1, stride);
}

class BasicBlock : public Module {
 public:
  BasicBlock(ModuleContext& ctx, int in, int out, int stride, Shortcut kind) {
    branch_ = register_module("branch", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                            conv_bn(ctx, in, out, 3, stride), ReLU(), conv_bn(ctx, out, out, 3, 1)}));
    if (auto s = shortcut(ctx, in, out, stride, kind)) shortcut_ = register_module("shortcut", s);
  }
  Tensor forward(const Tensor& x) override {
    return relu(add(branch_->forward(x), shortcut_ ? shortcut_->forward(x) : x));
  }
  std::string type_name() const override { return "BasicBlock"; }

 private:
  ModulePtr branch_, shortcut_;
};

class Bottleneck : public Module {
 public:
  static constexpr int kExpansion = 4;
  Bottleneck(ModuleContext& ctx, int in, int planes, int stride) {
    int out = planes * kExpansion;
    branch_ = register_module("branch", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                            conv_bn(ctx, in, planes, 1, 1), ReLU(), conv_bn(ctx, planes, planes, 3, stride),
                                            ReLU(), conv_bn(ctx, planes, out, 1, 1)}));
    if (auto s = shortcut(ctx, in, out, stride, Shortcut::b_projection)) shortcut_ = register_module("shortcut", s);
  }
  Tensor forward(const Tensor& x) override {
    return relu(add(branch_->forward(x), shortcut_ ? shortcut_->forward(x) : x));
  }
  std::string type_name() const override { return "Bottleneck"; }

 private:
  ModulePtr branch_, shortcut_;
};

// Stem, stages and head around `add_stages`, which appends the blocks and returns the final width.
template <class AddStages>
ModulePtr resnet(ModuleContext& ctx, const ModelOptions& o, int stem_width, const char* name, AddStages add_stages) {
  check_image_size(name, o, 8);
  auto net = std::make_shared<Sequential>();
  net->add(conv_bn(ctx, o.in_channels, stem_width, 3, 1)).add(ReLU());
  int c = add_stages(*net, stem_width);
  net->add(std::make_shared<AdaptiveAvgPool2d>(1, 1)).add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(ctx, c, o.num_classes));
  init_weights(*net, ctx, {.conv = InitScheme::Conv::kaiming_fan_out, .conv_bias_zero = true});
  return net;
}

ModulePtr basic_resnet(ModuleContext& ctx, const ModelOptions& o, const std::vector<int>& widths,
                       const std::vector<int>& blocks, Shortcut kind, const char* name) {
  return resnet(ctx, o, widths[0], name, [&](Sequential& net, int c) {
    for (size_t stage = 0; stage < widths.size(); ++stage)
      for (int b = 0; b < blocks[stage]; ++b) {
        int stride = stage > 0 && b == 0 ? 2 : 1;
        net.add(std::make_shared<BasicBlock>(ctx, c, widths[stage], stride, kind));
        c = widths[stage];
      }
    return c;
  });
}

}  // namespace

ModulePtr resnet20(ModuleContext& ctx, const ModelOptions& o) {
  int depth = o.depth ? o.depth : 20;
  if (depth < 8 || (depth - 2) % 6)
    throw Error("resnet20: CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got " + std::to_string(depth));
  int n = (depth - 2) / 6;
  return basic_resnet(ctx, o, {scaled(16, o.width), scaled(32, o.width), scaled(64, o.width)}, {n, n, n},
                      Shortcut::a_zero_pad, "resnet20");
}

ModulePtr resnet18(ModuleContext& ctx, const ModelOptions& o) {
  return basic_resnet(ctx, o, {scaled(64, o.width), scaled(128, o.width), scaled(256, o.width), scaled(512, o.width)},
                      {2, 2, 2, 2}, Shortcut::b_projection, "resnet18");
}

ModulePtr resnet50(ModuleContext& ctx, const ModelOptions& o) {
  const int planes[4] = {scaled(64, o.width), scaled(128, o.width), scaled(256, o.width), scaled(512, o.width)};
  const int blocks[4] = {3, 4, 6, 3};
  return resnet(ctx, o, planes[0], "resnet50", [&](Sequential& net, int c) {
    for (int stage = 0; stage < 4; ++stage)
      for (int b = 0; b < blocks[stage]; ++b) {
        net.add(std::make_shared<Bottleneck>(ctx, c, planes[stage], stage > 0 && b == 0 ? 2 : 1));
        c = planes[stage] * Bottleneck::kExpansion;
      }
    return c;
  });
}

}  // namespace vkwb::nn::models
