// Training machinery: optimizers, modules, the classifier trainer, checkpoints and resume.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include "engine/autograd.h"
#include "nets/checkpoint.h"
#include "nets/data/augment.h"
#include "nets/data/dataset.h"
#include "nets/io/checkpoint_file.h"
#include "nets/layers.h"
#include "nets/optim.h"
#include "nets/train.h"
#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::test;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("vkwb_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

nn::TrainConfig small_config(const fs::path& out) {
  nn::TrainConfig c;
  c.model = "lenet5";
  c.epochs = 2;
  c.batch = 32;
  c.limit_train = 1200;
  c.limit_test = 500;
  c.val_size = 200;
  c.seed = 3;
  c.out = out.string();
  c.quiet = true;
  c.log_every = 10;
  return c;
}

std::vector<float> flat_weights(nn::Module& m) {
  std::vector<float> all;
  for (auto& [n, t] : m.named_parameters()) {
    auto v = t->to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(training)

BOOST_AUTO_TEST_CASE(every_optimizer_reduces_a_quadratic) {
  for (const auto& name : nn::optimizer_names()) {
    Device& dev = gpu();
    Tensor w = Tensor::from(std::vector<float>{2.f, -3.f, 1.5f}, {3}, dev).requires_grad_();
    auto opt = nn::make_optimizer(name, {&w}, name == "adadelta" ? 1.f : 0.05f);
    float first = 0, last = 0;
    for (int i = 0; i < 60; ++i) {
      Tensor loss = sum(square(w));
      if (i == 0) first = loss.item();
      opt->zero_grad();
      loss.backward();
      opt->step();
      last = loss.item();
    }
    BOOST_CHECK_MESSAGE(last < 0.9f * first, name << ": loss " << first << " -> " << last);
  }
}

BOOST_AUTO_TEST_CASE(gradient_clipping_limits_the_step) {
  Device& dev = gpu();
  Tensor w = Tensor::from(std::vector<float>{0.f, 0.f}, {2}, dev).requires_grad_();
  nn::SGD opt({&w}, {.lr = 1.f});
  opt.clip_grad_norm(1.f);
  Tensor loss = sum(mul(w, Tensor::from(std::vector<float>{30.f, 40.f}, {2}, dev)));   // grad (30, 40), norm 50
  loss.backward();
  opt.step();
  auto v = w.to_vector();
  BOOST_CHECK_CLOSE(v[0], -0.6f, 1e-2);
  BOOST_CHECK_CLOSE(v[1], -0.8f, 1e-2);
}

BOOST_AUTO_TEST_CASE(state_dict_round_trip_and_batchnorm_eval) {
  Device& dev = gpu();
  nn::ModuleContext ctx(dev, 5);
  nn::Sequential net{std::make_shared<nn::Conv2d>(ctx, nn::Conv2dOptions{.in = 1, .out = 3, .kernel = 3}),
                     std::make_shared<nn::BatchNorm>(ctx, 3), nn::ReLU(), std::make_shared<nn::Flatten>()};
  Tensor x = Tensor::randn({4, 1, 6, 6}, dev, 1);
  net.forward(x);   // updates running statistics
  auto sd = net.state_dict();
  BOOST_CHECK(sd.count("1.running_mean") && sd.count("0.weight") && sd.count("1.bias"));
  nn::ModuleContext ctx2(dev, 99);
  nn::Sequential other{std::make_shared<nn::Conv2d>(ctx2, nn::Conv2dOptions{.in = 1, .out = 3, .kernel = 3}),
                       std::make_shared<nn::BatchNorm>(ctx2, 3), nn::ReLU(), std::make_shared<nn::Flatten>()};
  other.load_state_dict(sd);
  net.eval();
  other.eval();
  check_close(other.forward(x).to_dvector(), net.forward(x).to_dvector(), 1e-6, 1e-6, "same outputs after load");
  // Eval mode uses running stats: a single image gives the same row as in a batch.
  auto batch_out = net.forward(x).to_vector();
  auto single = net.forward(x.slice(0, 1)).to_vector();
  for (size_t i = 0; i < single.size(); ++i) BOOST_CHECK_CLOSE(single[i] + 1.f, batch_out[i] + 1.f, 1e-3);
  std::map<std::string, Tensor> bad = sd;
  bad["0.weight"] = Tensor::zeros({2, 2}, dev);
  BOOST_CHECK_THROW(other.load_state_dict(bad), Error);
}

BOOST_AUTO_TEST_CASE(lenet_learns_a_subset) {
  fs::path dir = temp_dir("learn");
  nn::TrainConfig c = small_config(dir / "run");
  c.epochs = 3;
  nn::ClassifierTrainer t(gpu(), c);
  auto hist = t.run();
  BOOST_REQUIRE_EQUAL(hist.size(), 3u);
  BOOST_CHECK(hist.back().train_loss < hist.front().train_loss);
  auto r = t.test();
  BOOST_TEST_MESSAGE("lenet5, 1000 images x 3 epochs: test accuracy " << r.accuracy);
  BOOST_CHECK_GT(r.accuracy, 0.65);
  // Flip test-time augmentation = argmax of the mean of the logits of each image and its mirror,
  // computed here by hand on the same test subset.
  auto tta = t.test(/*flip_tta=*/true);
  {
    data::Dataset train, test;
    nn::load_classification_data(c, &train, &test);
    BOOST_REQUIRE_EQUAL(test.n, 500);
    std::vector<float> mirrored = test.images;
    for (int i = 0; i < test.n; ++i) data::flip_image(mirrored.data() + size_t(i) * test.sample_size(), 1, 28, 28);
    NoGradGuard ng;
    t.model().eval();
    auto a = t.model().forward(Tensor::from(std::span<const float>(test.images), {500, 1, 28, 28}, gpu())).to_vector();
    auto b = t.model().forward(Tensor::from(std::span<const float>(mirrored), {500, 1, 28, 28}, gpu())).to_vector();
    t.model().train();
    int correct = 0;
    for (int i = 0; i < 500; ++i) {
      int best = 0;
      for (int k = 1; k < 10; ++k)
        if (a[size_t(i * 10 + k)] + b[size_t(i * 10 + k)] > a[size_t(i * 10 + best)] + b[size_t(i * 10 + best)]) best = k;
      correct += best == test.labels[size_t(i)];
    }
    BOOST_TEST_MESSAGE("with flip TTA: " << tta.accuracy << " (by hand " << correct / 500.0 << ")");
    BOOST_CHECK_CLOSE(tta.accuracy, correct / 500.0, 0.5);   // ties within float rounding may flip one image
    BOOST_CHECK_GT(std::abs(tta.loss - r.loss), 1e-4);      // the mirrored pass did change the logits
  }
  BOOST_CHECK(fs::exists(dir / "run" / "config.json"));
  BOOST_CHECK(fs::exists(dir / "run" / "metrics.csv"));
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(resume_is_identical_to_an_uninterrupted_run) {
  fs::path dir = temp_dir("resume");
  nn::TrainConfig full = small_config(dir / "full");
  nn::ClassifierTrainer a(gpu(), full);
  a.run();
  std::vector<float> wa = flat_weights(a.model());

  nn::TrainConfig half = small_config(dir / "half");
  half.epochs = 1;
  nn::ClassifierTrainer b1(gpu(), half);
  b1.run();
  nn::TrainConfig rest = small_config(dir / "half");
  rest.resume = true;
  nn::ClassifierTrainer b2(gpu(), rest);
  auto hist = b2.run();
  BOOST_CHECK_EQUAL(hist.size(), 2u);
  std::vector<float> wb = flat_weights(b2.model());
  BOOST_REQUIRE_EQUAL(wa.size(), wb.size());
  BOOST_CHECK(wa == wb);   // bit for bit
  // The metrics log continues instead of restarting.
  std::ifstream csv(dir / "half" / "metrics.csv");
  int lines = 0;
  for (std::string l; std::getline(csv, l);) lines++;
  BOOST_CHECK_EQUAL(lines, 3);   // header + 2 epochs
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(corrupt_and_truncated_checkpoints_are_refused) {
  fs::path dir = temp_dir("corrupt");
  nn::TrainConfig c = small_config(dir / "run");
  c.epochs = 1;
  c.limit_train = 300;
  c.val_size = 0;
  nn::ClassifierTrainer t(gpu(), c);
  t.run();
  double trained_acc = t.test().accuracy;
  fs::path ck;
  for (auto& e : fs::directory_iterator(dir / "run" / "checkpoints")) ck = e.path();
  BOOST_REQUIRE(!ck.empty());
  auto size = fs::file_size(ck);
  fs::path trunc = dir / "trunc.ckpt", flipped = dir / "flip.ckpt";
  fs::copy_file(ck, trunc);
  fs::resize_file(trunc, size / 2);
  fs::copy_file(ck, flipped);
  {
    std::fstream f(flipped, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(size - 100));
    char ch;
    f.read(&ch, 1);
    f.seekp(std::streamoff(size - 100));
    ch = char(ch ^ 0x5a);
    f.write(&ch, 1);
  }
  auto says = [](const std::string& word) {
    return [word](const Error& e) { return std::string(e.what()).find(word) != std::string::npos; };
  };
  BOOST_CHECK_EXCEPTION(nn::checkpoint_config(trunc.string()), Error, says("truncated"));
  BOOST_CHECK_EXCEPTION(nn::checkpoint_config(flipped.string()), Error, says("corrupt"));
  BOOST_CHECK_EXCEPTION(nn::checkpoint_config((dir / "missing.ckpt").string()), Error, says("missing.ckpt"));
  // The good one still loads and evaluates.
  nn::TrainConfig ec = nn::checkpoint_config(ck.string());
  ec.out.clear();
  ec.quiet = true;
  nn::ClassifierTrainer e(gpu(), ec);
  e.load_model(ck.string());
  BOOST_CHECK_EQUAL(e.test().accuracy, trained_acc);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(nan_loss_stops_with_the_step) {
  fs::path dir = temp_dir("nan");
  nn::TrainConfig c = small_config(dir / "run");
  c.optimizer = "sgd";
  c.lr = 1e12f;
  c.epochs = 2;
  BOOST_CHECK_EXCEPTION(nn::ClassifierTrainer(gpu(), c).run(), Error, [](const Error& e) {
    std::string w = e.what();
    return w.find("step") != std::string::npos && (w.find("nan") != std::string::npos || w.find("inf") != std::string::npos);
  });
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(bad_input_is_refused) {
  nn::TrainConfig c;
  c.model = "no-such-model";
  c.limit_train = 100;
  c.quiet = true;
  BOOST_CHECK_THROW(nn::ClassifierTrainer(gpu(), c), Error);
  c.model = "lenet5";
  c.data_dir = "/nonexistent";
  BOOST_CHECK_EXCEPTION(nn::ClassifierTrainer(gpu(), c), Error,
                        [](const Error& e) { return std::string(e.what()).find("/nonexistent") != std::string::npos; });
  c.data_dir.clear();
  c.optimizer = "adamax";
  BOOST_CHECK_THROW(nn::ClassifierTrainer(gpu(), c), Error);
}

BOOST_AUTO_TEST_SUITE_END()
