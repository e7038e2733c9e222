// The model zoo: every registered model maps 1x28x28 and 3x32x32 batches to [N, classes], has the
// parameter count of its reference implementation where one is known, and learns (a few Adam steps
// on 8 Fashion-MNIST training images lower the loss).
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdio>
#include <map>

#include "engine/ops.h"
#include "engine/stream.h"
#include "nets/layers.h"
#include "nets/data/dataset.h"
#include "nets/models/models.h"
#include "nets/optim.h"
#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::nn;
using namespace vkwb::nn::models;
using vkwb::test::gpu;
namespace bdata = boost::unit_test::data;

namespace {

int64_t count_params(const std::string& name, int channels, int size, int depth = 0) {
  ModuleContext ctx(gpu(), 1);
  return make_model(name, ctx, {.in_channels = channels, .image_size = size, .num_classes = 10, .depth = depth})
      ->num_parameters();
}

std::string with_commas(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(model_zoo)

BOOST_DATA_TEST_CASE(forward_shape, bdata::make(model_names()), name) {
  Device& dev = gpu();
  struct Input { int c, s; };
  for (Input in : {Input{1, 28}, Input{3, 32}}) {
    ModuleContext ctx(dev, 1);
    auto net = make_model(name, ctx, {.in_channels = in.c, .image_size = in.s, .num_classes = 10});
    net->eval();
    NoGradGuard no_grad;
    Tensor y = net->forward(Tensor::randn({2, in.c, in.s, in.s}, dev, 7));
    BOOST_TEST_REQUIRE(y.shape().str() == Shape({2, 10}).str(), name << " " << in.c << "x" << in.s << "x" << in.s);
    for (float v : y.to_vector()) BOOST_TEST_REQUIRE(std::isfinite(v), name << ": non-finite output");
    std::printf("  %-10s %dx%dx%d: %11s parameters\n", name.c_str(), in.c, in.s, in.s,
                with_commas(net->num_parameters()).c_str());
  }
}

// Counts worked out by hand or known from the reference implementations.
BOOST_AUTO_TEST_CASE(parameter_counts) {
  // LeNet-5, 28x28 (conv pad 2): conv1 6*25+6 = 156, conv2 16*6*25+16 = 2,416, fc 400*120+120 =
  // 48,120, 120*84+84 = 10,164, 84*10+10 = 850: 61,706 (the PyTorch peer's count).
  BOOST_TEST(count_params("lenet5", 1, 28) == 61706);
  // AlexNet: convs 64*25+64 = 1,664, 192*64*25+192 = 307,392, 384*192*9+384 = 663,936,
  // 256*384*9+256 = 884,992, 256*256*9+256 = 590,080; FC (256*2*2)*1024+1024 = 1,049,600,
  // 1024*1024+1024 = 1,049,600, 1024*10+10 = 10,250: 4,557,514.
  BOOST_TEST(count_params("alexnet", 1, 28) == 4557514);
  // VGG-11: convs 640 + 73,856 + 295,168 + 590,080 + 1,180,160 + 3 * 2,359,808; FC 262,656 + 5,130.
  BOOST_TEST(count_params("vgg11", 1, 28) == 9487114);
  // CIFAR ResNet-20, option A: 269,722 (He et al.; akamaster/pytorch_resnet_cifar10). One input
  // channel instead of three saves 2*16*9 = 288.
  BOOST_TEST(count_params("resnet20", 3, 32) == 269722);
  BOOST_TEST(count_params("resnet20", 1, 28) == 269722 - 288);
  BOOST_TEST(count_params("resnet20", 3, 32, 56) == 853018);   // ResNet-56: 0.85M in the paper
  // kuangliu/pytorch-cifar ResNet18 / ResNet50 (same CIFAR stem and shortcuts).
  BOOST_TEST(count_params("resnet18", 3, 32) == 11173962);
  BOOST_TEST(count_params("resnet50", 3, 32) == 23520842);
  // kuangliu/pytorch-cifar VGG11 / VGG16 (conv with bias + BN, 512 -> 10) plus our 512x512 hidden layer.
  BOOST_TEST(count_params("vgg11_bn", 3, 32) == 9231114 + 512 * 512 + 512);
  BOOST_TEST(count_params("vgg16_bn", 3, 32) == 14728266 + 512 * 512 + 512);
  // DenseNet-BC (L=100, k=12): 769,162 (andreasveit/densenet-pytorch; "0.8M" in the paper).
  BOOST_TEST(count_params("densenet", 3, 32, 100) == 769162);
  // Every model has the same count for 28x28 and 32x32 inputs up to the first conv's input channels.
}

// Width used for the training test: the big models shrink so it stays fast on a CPU device.
float train_width(const std::string& name) {
  static const std::map<std::string, float> w = {{"mlp", 1.f}, {"lenet5", 1.f}, {"resnet20", 0.5f}, {"densenet", 0.5f}};
  auto it = w.find(name);
  return it == w.end() ? 0.25f : it->second;
}

BOOST_DATA_TEST_CASE(trains, bdata::make(model_names()), name) {
  Device& dev = gpu();
  ModuleContext ctx(dev, 42);
  // Dropout off so that the loss before and after is measured on the same function.
  // DenseNet at depth 22 (3 layers per block): its 40-layer default costs ~1,500 small dispatches
  // per step, slow under the validation layer; the forward test covers the default depth.
  auto net = make_model(name, ctx, {.in_channels = 1, .image_size = 28, .num_classes = 10, .width = train_width(name),
                                    .dropout = 0.f, .depth = name == "densenet" ? 22 : 0});
  net->train();
  // A small subset of Fashion-MNIST: the first training image of each of the classes 0-7,
  // normalised as in training.
  static const std::vector<float> images = [] {
    data::Dataset train = data::load_fashion_mnist(data::kDefaultFashionMnistDir, "train");
    std::vector<float> v;
    for (int cls = 0; cls < 8; ++cls)
      for (int i = 0; i < train.n; ++i)
        if (train.labels[size_t(i)] == cls) {
          for (size_t k = 0; k < train.sample_size(); ++k) v.push_back((train.image(i)[k] - 0.2860f) / 0.3530f);
          break;
        }
    return v;
  }();
  BOOST_REQUIRE_EQUAL(images.size(), size_t(8 * 28 * 28));
  Tensor x = Tensor::from(images, {8, 1, 28, 28}, dev);
  Tensor y = Tensor::from(std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}, {8}, dev);
  nn::Adam opt(net->parameters(), {.lr = 1e-3f});
  float before = 0, after = 0;
  const int steps = 3;
  for (int i = 0; i <= steps; ++i) {
    opt.zero_grad();
    if (i == steps) {
      NoGradGuard no_grad;
      after = cross_entropy(net->forward(x), y).item();
      break;
    }
    Tensor loss = cross_entropy(net->forward(x), y);
    if (i == 0) before = loss.item();
    loss.backward();
    opt.step();
  }
  std::printf("  %-10s width %.2f: loss %.4f -> %.4f after %d Adam steps\n", name.c_str(), train_width(name), before,
              after, steps);
  BOOST_TEST(std::isfinite(after));
  BOOST_TEST(after < before, name << ": loss " << before << " -> " << after);
}

BOOST_AUTO_TEST_CASE(bad_options) {
  ModuleContext ctx(gpu(), 1);
  BOOST_CHECK_THROW(make_model("resnet20", ctx, {.depth = 21}), Error);
  BOOST_CHECK_THROW(make_model("densenet", ctx, {.depth = 41}), Error);
  BOOST_CHECK_THROW(make_model("no_such_model", ctx, {}), Error);
}

BOOST_AUTO_TEST_CASE(activation_layers) {
  // Every named activation builds and is the op it names (values checked on a few points; the
  // kernels themselves have reference tests and gradchecks in test_engine).
  Tensor x = Tensor::from(std::vector<float>{-7.f, -1.f, -0.25f, 0.5f, 2.f, 7.f}, {6}, gpu());
  auto xv = x.to_vector();
  std::map<std::string, std::function<double(double)>> want = {
      {"relu", [](double v) { return std::max(v, 0.0); }},
      {"relu6", [](double v) { return std::clamp(v, 0.0, 6.0); }},
      {"hardtanh", [](double v) { return std::clamp(v, -1.0, 1.0); }},
      {"silu", [](double v) { return v / (1 + std::exp(-v)); }},
      {"gelu", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {"selu", [](double v) { return 1.0507009873554805 * (v > 0 ? v : 1.6732632423543772 * (std::exp(v) - 1)); }},
      {"softplus", [](double v) { return std::log1p(std::exp(v)); }},
  };
  for (auto& [name, f] : want) {
    auto y = activation(name)->forward(x).to_vector();
    for (size_t i = 0; i < xv.size(); ++i)
      BOOST_CHECK_MESSAGE(std::abs(y[i] - f(xv[i])) < 1e-5 * (1 + std::abs(f(xv[i]))), name << "(" << xv[i] << ") = " << y[i] << ", want " << f(xv[i]));
  }
  BOOST_CHECK_THROW(activation("swishy"), Error);
}

// Sequential runs Linear/Conv2d + ReLU as one fused op, and Conv2d + ReLU + MaxPool2d as one
// (LeNet-5: the ReLU's mask folded into the pooling's backward): the same outputs and gradients as
// the separate ops (VKWB_FUSE=0), with fewer dispatches.
BOOST_AUTO_TEST_CASE(sequential_fuses_relu_into_linear_and_conv) {
  Device& dev = gpu();
  for (const char* name : {"lenet5", "mlp"}) {
    struct Run { std::vector<float> y; std::vector<std::vector<float>> grads; uint64_t dispatches; };
    auto run = [&](bool fuse) {
      if (fuse) unsetenv("VKWB_FUSE");
      else setenv("VKWB_FUSE", "0", 1);
      ModuleContext ctx(dev, 5);
      auto net = make_model(name, ctx, {.in_channels = 1, .image_size = 28, .num_classes = 10});
      Tensor x = Tensor::randn({3, 1, 28, 28}, dev, 11);
      dev.sync();
      uint64_t d0 = dev.stream().dispatches();
      Tensor y = net->forward(x);
      uint64_t d1 = dev.stream().dispatches();
      sum(mul(y, y)).backward();
      Run r{y.to_vector(), {}, d1 - d0};
      for (auto& [n, p] : net->named_parameters()) r.grads.push_back(p->grad().to_vector());
      return r;
    };
    Run fused = run(true), plain = run(false);
    unsetenv("VKWB_FUSE");
    BOOST_TEST_REQUIRE(fused.y.size() == plain.y.size());
    for (size_t i = 0; i < fused.y.size(); ++i) BOOST_TEST_REQUIRE(std::abs(fused.y[i] - plain.y[i]) <= 1e-6f * (1 + std::abs(plain.y[i])));
    BOOST_TEST_REQUIRE(fused.grads.size() == plain.grads.size());
    for (size_t k = 0; k < fused.grads.size(); ++k)
      for (size_t i = 0; i < fused.grads[k].size(); ++i)
        BOOST_TEST_REQUIRE(std::abs(fused.grads[k][i] - plain.grads[k][i]) <= 1e-5f * (1 + std::abs(plain.grads[k][i])),
                           name << " parameter " << k << " gradient " << i);
    // Every ReLU follows a Linear or a Conv2d; on CPU drivers (the direct convolution kernel)
    // LeNet-5's two max pools run in its convolutions' epilogues too.
    const bool direct = dev.info().type == "cpu" && dev.info().texel_buffers && !std::getenv("VKWB_CONV") && !std::getenv("VKWB_TEXEL");
    int saved = std::string(name) == "lenet5" ? 4 + (direct ? 2 : 0) : 2;
    BOOST_TEST(plain.dispatches - fused.dispatches == uint64_t(saved), name << ": " << plain.dispatches << " vs " << fused.dispatches << " dispatches");
  }
  // ConvTranspose2d + ReLU (+ MaxPool2d) is not fused into a convolution: it stays the transposed
  // op, then ReLU (then the pooling).
  ModuleContext ctx(dev, 6);
  auto up = std::make_shared<ConvTranspose2d>(ctx, nn::Conv2dOptions{.in = 3, .out = 2, .kernel = 3, .stride = 2});
  Sequential seq{up, ReLU()};
  Tensor x = Tensor::randn({2, 3, 5, 4}, dev, 12);
  auto got = seq.forward(x).to_vector(), want = relu(up->forward(x)).to_vector();
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) BOOST_TEST_REQUIRE(got[i] == want[i]);
  auto pool = std::make_shared<MaxPool2d>(2);
  Sequential seq_pool{up, ReLU(), pool};
  got = seq_pool.forward(x).to_vector(), want = max_pool2d(relu(up->forward(x)), pool->opt).to_vector();
  BOOST_TEST_REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) BOOST_TEST_REQUIRE(got[i] == want[i]);
}

BOOST_AUTO_TEST_CASE(prelu_learns_one_slope_per_channel) {
  ModuleContext ctx(gpu(), 3);
  PReLU pr(ctx, 3, 0.25f);
  BOOST_CHECK_EQUAL(pr.num_parameters(), 3);
  Tensor x = Tensor::randn({2, 3, 4, 5}, gpu(), 11);
  Tensor y = pr.forward(x);
  auto xv = x.to_vector(), yv = y.to_vector();
  for (size_t i = 0; i < xv.size(); ++i) BOOST_REQUIRE_CLOSE(yv[i] + 10.f, (xv[i] > 0 ? xv[i] : 0.25f * xv[i]) + 10.f, 1e-4);
  // d sum(y) / d a_c = sum of the negative inputs of channel c.
  sum(y).backward();
  auto g = pr.named_parameters()[0].second->grad().to_vector();
  for (int c = 0; c < 3; ++c) {
    double want = 0;
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 20; ++k) want += std::min(0.f, xv[size_t((n * 3 + c) * 20 + k)]);
    BOOST_CHECK_CLOSE(g[size_t(c)], want, 1e-3);
  }
  BOOST_CHECK_THROW(pr.forward(Tensor::randn({2, 4, 5}, gpu(), 1)), Error);   // 4 channels, not 3
  PReLU shared(ctx);   // one slope for everything
  BOOST_CHECK_EQUAL(shared.num_parameters(), 1);
  BOOST_CHECK_CLOSE(shared.forward(Tensor::full({2, 3}, -2.f, gpu())).to_vector()[4], -0.5f, 1e-4);
}

BOOST_AUTO_TEST_SUITE_END()
