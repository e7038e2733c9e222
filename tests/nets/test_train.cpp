// Training machinery: optimizers, modules, the classifier trainer, checkpoints and resume.
#include <boost/test/unit_test.hpp>

#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>

#include "engine/autograd.h"
#include "nets/checkpoint.h"
#include "nets/data/augment.h"
#include "nets/data/dataset.h"
#include "nets/io/checkpoint_file.h"
#include "nets/io/image_grid.h"
#include "nets/init.h"
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

BOOST_AUTO_TEST_CASE(optimizers_follow_the_pytorch_update_rules) {
  // Three steps on loss = sum(w^2) (gradient 2w) from w0, each optimizer against its update rule
  // as torch.optim documents it, written out here in double (independent of engine/reference).
  const std::vector<double> w0 = {0.8, -1.3, 0.05};
  const double lr = 0.05, wd = 0.1;
  struct Rule { std::string name; std::function<void(std::vector<double>&, std::vector<std::vector<double>>&, int)> step; };
  auto each = [](std::vector<double>& w, auto&& f) { for (size_t i = 0; i < w.size(); ++i) f(i); };
  std::vector<Rule> rules = {
      {"sgd", [&](auto& w, auto&, int) { each(w, [&](size_t i) { w[i] -= lr * (2 * w[i] + wd * w[i]); }); }},
      {"momentum", [&](auto& w, auto& st, int t) { each(w, [&](size_t i) {
         double g = 2 * w[i] + wd * w[i];
         st[0][i] = t == 1 ? g : 0.9 * st[0][i] + g;
         w[i] -= lr * st[0][i]; }); }},
      {"nesterov", [&](auto& w, auto& st, int t) { each(w, [&](size_t i) {
         double g = 2 * w[i] + wd * w[i];
         st[0][i] = t == 1 ? g : 0.9 * st[0][i] + g;
         w[i] -= lr * (g + 0.9 * st[0][i]); }); }},
      {"adagrad", [&](auto& w, auto& st, int) { each(w, [&](size_t i) {
         double g = 2 * w[i] + wd * w[i];
         st[0][i] += g * g;
         w[i] -= lr * g / (std::sqrt(st[0][i]) + 1e-10); }); }},
      {"adadelta", [&](auto& w, auto& st, int) { each(w, [&](size_t i) {
         double g = 2 * w[i] + wd * w[i];
         st[0][i] = 0.9 * st[0][i] + 0.1 * g * g;
         double d = std::sqrt(st[1][i] + 1e-6) / std::sqrt(st[0][i] + 1e-6) * g;
         st[1][i] = 0.9 * st[1][i] + 0.1 * d * d;
         w[i] -= lr * d; }); }},
      {"rmsprop", [&](auto& w, auto& st, int) { each(w, [&](size_t i) {
         double g = 2 * w[i] + wd * w[i];
         st[0][i] = 0.99 * st[0][i] + 0.01 * g * g;
         w[i] -= lr * g / (std::sqrt(st[0][i]) + 1e-8); }); }},
      {"rmsprop_centered", [&](auto& w, auto& st, int) { each(w, [&](size_t i) {
         double g = 2 * w[i] + wd * w[i];
         st[0][i] = 0.99 * st[0][i] + 0.01 * g * g;
         st[1][i] = 0.99 * st[1][i] + 0.01 * g;
         w[i] -= lr * g / (std::sqrt(st[0][i] - st[1][i] * st[1][i]) + 1e-8); }); }},
      {"adam", [&](auto& w, auto& st, int t) { each(w, [&](size_t i) {
         double g = 2 * w[i] + wd * w[i];
         st[0][i] = 0.9 * st[0][i] + 0.1 * g;
         st[1][i] = 0.999 * st[1][i] + 0.001 * g * g;
         double mh = st[0][i] / (1 - std::pow(0.9, t)), vh = st[1][i] / (1 - std::pow(0.999, t));
         w[i] -= lr * mh / (std::sqrt(vh) + 1e-8); }); }},
      {"adamw", [&](auto& w, auto& st, int t) { each(w, [&](size_t i) {
         double g = 2 * w[i];
         w[i] *= 1 - lr * wd;
         st[0][i] = 0.9 * st[0][i] + 0.1 * g;
         st[1][i] = 0.999 * st[1][i] + 0.001 * g * g;
         double mh = st[0][i] / (1 - std::pow(0.9, t)), vh = st[1][i] / (1 - std::pow(0.999, t));
         w[i] -= lr * mh / (std::sqrt(vh) + 1e-8); }); }},
  };
  BOOST_REQUIRE_EQUAL(rules.size(), nn::optimizer_names().size());
  for (auto& r : rules) {
    Tensor w = Tensor::from(std::vector<float>(w0.begin(), w0.end()), {3}, gpu()).requires_grad_();
    auto opt = nn::make_optimizer(r.name, {&w}, float(lr), float(wd));
    std::vector<double> want = w0;
    std::vector<std::vector<double>> st(2, std::vector<double>(3, 0.0));
    for (int t = 1; t <= 3; ++t) {
      opt->zero_grad();
      sum(square(w)).backward();
      opt->step();
      r.step(want, st, t);
    }
    auto got = w.to_vector();
    for (size_t i = 0; i < 3; ++i)
      BOOST_CHECK_MESSAGE(std::abs(got[i] - want[i]) < 2e-5 * (1 + std::abs(want[i])), r.name << " w[" << i << "] = " << got[i] << ", torch rule " << want[i]);
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
  // The misclassified test images as a PNG grid (8 columns of 28x28 tiles at scale 2, 2-pixel
  // padding) and their labels.
  int wrong = int(std::lround((1 - r.accuracy) * 500));
  BOOST_CHECK_EQUAL(t.save_test_mistakes(r), std::min(wrong, 64));
  auto size = io::png_size((dir / "run" / "samples" / "test_mistakes.png").string());
  BOOST_CHECK_EQUAL(size[0], 8 * 56 + 9 * 2);
  BOOST_CHECK_EQUAL(size[1], 8 * 56 + 9 * 2);   // 64 tiles: 8 rows
  BOOST_CHECK_EQUAL(size[2], 1);
  std::ifstream mj(dir / "run" / "samples" / "test_mistakes.json");
  auto tiles = nlohmann::json::parse(mj)["tiles"];
  BOOST_REQUIRE_EQUAL(tiles.size(), 64u);
  for (auto& tile : tiles) BOOST_CHECK(tile["true"] != tile["predicted"]);
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
  // A resumed run keeps its hyper-parameters: a changed one is refused before anything is written.
  nn::TrainConfig changed = rest;
  changed.lr = 0.5f;
  auto says = [](const std::string& word) {
    return [word](const Error& e) { return std::string(e.what()).find(word) != std::string::npos; };
  };
  BOOST_CHECK_EXCEPTION(nn::ClassifierTrainer(gpu(), changed).run(), Error, says("lr"));
  // More epochs may be asked for: the run continues and config.json says so.
  nn::TrainConfig longer = rest;
  longer.epochs = 3;
  nn::ClassifierTrainer b3(gpu(), longer);
  BOOST_CHECK_EQUAL(b3.run().size(), 3u);
  std::ifstream cj(dir / "half" / "config.json");
  BOOST_CHECK_EQUAL(nlohmann::json::parse(cj)["epochs"].get<int>(), 3);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(early_stopping_stops_and_stays_stopped_on_resume) {
  fs::path dir = temp_dir("early");
  nn::TrainConfig c = small_config(dir / "run");
  c.optimizer = "sgd";
  c.lr = 1e-12f;          // the weights cannot move: the validation loss never improves after epoch 1
  c.epochs = 5;
  c.early_stopping = 2;   // so epochs 2 and 3 are the two bad ones
  c.limit_train = 400;
  nn::ClassifierTrainer t(gpu(), c);
  BOOST_CHECK_EQUAL(t.run().size(), 3u);
  nn::TrainConfig r = c;
  r.resume = true;
  r.epochs = 8;
  nn::ClassifierTrainer t2(gpu(), r);
  BOOST_CHECK_EQUAL(t2.run().size(), 3u);   // the stop is part of the checkpoint
  // Without early stopping the same run trains every epoch.
  nn::TrainConfig all = c;
  all.early_stopping = 0;
  all.epochs = 4;
  all.out = (dir / "all").string();
  BOOST_CHECK_EQUAL(nn::ClassifierTrainer(gpu(), all).run().size(), 4u);
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

BOOST_AUTO_TEST_CASE(nan_loss_in_a_later_epoch_keeps_the_last_good_checkpoint) {
  fs::path dir = temp_dir("nan2");
  nn::TrainConfig c = small_config(dir / "run");
  c.optimizer = "sgd";
  c.lr = 0.01f;
  c.schedule = "step";   // epoch 2 runs at lr 0.01 * 1e14: it diverges there
  c.step_size = 1;
  c.gamma = 1e14f;
  c.epochs = 3;
  c.val_size = 0;
  c.log_every = 5;
  std::string msg;
  try {
    nn::ClassifierTrainer(gpu(), c).run();
  } catch (const Error& e) {
    msg = e.what();
  }
  BOOST_TEST_MESSAGE("error: " << msg);
  BOOST_CHECK(msg.find("epoch 2") != std::string::npos);
  BOOST_CHECK(msg.find("checkpoint of epoch 1 is kept") != std::string::npos);
  std::vector<fs::path> cks;
  for (auto& e : fs::directory_iterator(dir / "run" / "checkpoints"))
    if (e.path().extension() == ".ckpt") cks.push_back(e.path());
  BOOST_REQUIRE_EQUAL(cks.size(), 1u);
  // It is the epoch-1 checkpoint, intact, with finite weights.
  nn::TrainConfig ec = nn::checkpoint_config(cks[0].string());
  ec.out.clear();
  nn::ClassifierTrainer e(gpu(), ec);
  e.load_model(cks[0].string());
  for (float v : flat_weights(e.model())) BOOST_REQUIRE(std::isfinite(v));
  BOOST_CHECK(std::isfinite(e.test().loss));
  BOOST_CHECK_EQUAL(cks[0].filename().string(), "step_0000000038.ckpt");   // 1200 images / 32 = 38 steps
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(lr_schedules_match_their_formulas) {
  const double base = 0.1;
  nn::LRSchedule step(float(base), {.kind = "step", .step_size = 3, .gamma = 0.5f});
  for (int e = 0; e < 10; ++e) BOOST_CHECK_CLOSE(step.lr_for_epoch(e), base * std::pow(0.5, e / 3), 1e-4);
  nn::LRSchedule cosine(float(base), {.kind = "cosine", .total_epochs = 8, .min_lr = 0.01f});
  for (int e = 0; e <= 8; ++e)
    BOOST_CHECK_CLOSE(cosine.lr_for_epoch(e), 0.01 + 0.5 * (base - 0.01) * (1 + std::cos(M_PI * e / 8)), 1e-4);
  BOOST_CHECK_CLOSE(cosine.lr_for_epoch(12), 0.01, 1e-4);   // stays at the floor after the horizon
  // Linear warmup from lr/10 over the first epochs, then the schedule itself.
  nn::LRSchedule warm(float(base), {.kind = "constant", .warmup_epochs = 4});
  BOOST_CHECK_CLOSE(warm.lr_for_epoch(0), base * 0.1, 1e-4);
  BOOST_CHECK_CLOSE(warm.lr_for_epoch(2), base * (0.1 + 0.9 * 2 / 4.0), 1e-4);
  BOOST_CHECK_CLOSE(warm.lr_for_epoch(4), base, 1e-4);
  // Reduce on plateau (PyTorch's ReduceLROnPlateau, mode min): the lr drops by gamma once the
  // validation loss has not improved for more than `patience` epochs, then the count restarts.
  nn::LRSchedule plat(float(base), {.kind = "plateau", .gamma = 0.1f, .patience = 2});
  std::vector<float> losses = {1.0f, 0.9f, 0.95f, 0.91f, 0.92f, 0.93f, 0.5f};
  std::vector<double> expect_after = {base, base, base, base, base * 0.1, base * 0.1, base * 0.1};
  for (size_t i = 0; i < losses.size(); ++i) {
    plat.report_validation_loss(losses[i]);
    BOOST_CHECK_CLOSE(plat.lr_for_epoch(int(i) + 1), expect_after[i], 1e-4);
  }
}

BOOST_AUTO_TEST_CASE(dropout_keeps_the_expectation_and_its_gradient_is_the_mask) {
  Device& dev = gpu();
  const int n = 40001;   // odd
  const float p = 0.3f;
  Tensor x = Tensor::full({n}, 2.f, dev).requires_grad_();
  Tensor y = dropout(x, p, 7, /*training=*/true);
  auto v = y.to_vector();
  int kept = 0;
  for (float e : v) {
    BOOST_REQUIRE(e == 0.f || std::abs(e - 2.f / (1 - p)) < 1e-5f);   // dropped, or scaled by 1/(1-p)
    kept += e != 0.f;
  }
  double rate = double(kept) / n;   // binomial: std sqrt(p(1-p)/n) = 0.0023
  BOOST_CHECK_CLOSE(rate, 1 - p, 100 * 5 * 0.0023 / (1 - p));
  sum(y).backward();
  auto g = x.grad().to_vector();
  for (int i = 0; i < n; ++i) BOOST_REQUIRE_CLOSE(g[size_t(i)] * 2.f + 1.f, v[size_t(i)] + 1.f, 1e-4);   // dy/dx = mask/(1-p)
  // Same seed, same mask; another seed, another mask; eval mode is the identity.
  BOOST_CHECK(dropout(x.detach(), p, 7, true).to_vector() == v);
  BOOST_CHECK(dropout(x.detach(), p, 8, true).to_vector() != v);
  BOOST_CHECK(dropout(x.detach(), p, 7, false).to_vector() == x.detach().to_vector());
}

BOOST_AUTO_TEST_CASE(initialisers_have_their_variances) {
  Device& dev = gpu();
  const Shape w{257, 129, 3, 3};   // conv weight: fan_in 129*9, fan_out 257*9
  const double fin = 129 * 9, fout = 257 * 9;
  auto stats = [](const Tensor& t) {
    auto v = t.to_dvector();
    double m = 0, s = 0, mx = 0;
    for (double e : v) m += e, mx = std::max(mx, std::abs(e));
    m /= double(v.size());
    for (double e : v) s += (e - m) * (e - m);
    return std::array<double, 3>{m, std::sqrt(s / double(v.size())), mx};
  };
  struct Case { const char* name; Tensor t; double std, bound; };
  std::vector<Case> cases = {
      {"xavier_uniform", nn::init::xavier_uniform(w, dev, 1), std::sqrt(2 / (fin + fout)), std::sqrt(6 / (fin + fout))},
      {"xavier_normal", nn::init::xavier_normal(w, dev, 2), std::sqrt(2 / (fin + fout)), 0},
      {"kaiming_uniform", nn::init::kaiming_uniform(w, dev, 3), std::sqrt(2 / fin), std::sqrt(6 / fin)},
      {"kaiming_normal", nn::init::kaiming_normal(w, dev, 4), std::sqrt(2 / fin), 0},
      {"kaiming_normal fan_out", nn::init::kaiming_normal(w, dev, 5, std::sqrt(2.0), false), std::sqrt(2 / fout), 0},
      {"default_uniform", nn::init::default_uniform(w, dev, 6, fin), 1 / std::sqrt(3 * fin), 1 / std::sqrt(fin)},
  };
  for (auto& c : cases) {
    auto [m, sd, mx] = stats(c.t);
    BOOST_TEST_MESSAGE(c.name << ": mean " << m << " std " << sd << " (want " << c.std << ") max " << mx);
    BOOST_CHECK_MESSAGE(std::abs(m) < 0.01 * c.std * 10, c.name << " mean " << m);
    BOOST_CHECK_MESSAGE(std::abs(sd / c.std - 1) < 0.01, c.name << " std " << sd << " vs " << c.std);
    if (c.bound > 0) BOOST_CHECK_MESSAGE(mx <= c.bound * (1 + 1e-6) && mx > 0.99 * c.bound, c.name << " max " << mx << " bound " << c.bound);
  }
  // Same seed, same weights.
  BOOST_CHECK(nn::init::xavier_uniform(w, dev, 1).to_vector() == cases[0].t.to_vector());
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

// The trainer on two data-parallel replicas: the same run as on one device (up to summation
// order), every replica in step, and a resumed run identical to an uninterrupted one.
BOOST_AUTO_TEST_CASE(two_replicas_train_like_one_and_resume_identically) {
  fs::path dir = temp_dir("replicas");
  nn::TrainConfig one = small_config(dir / "one");
  nn::TrainConfig two = small_config(dir / "two");
  two.replicas = 2;
  two.batch = one.batch = 37;   // odd shards of 19 and 18; 1000 training images end on a batch of 1 (one replica idle)
  nn::ClassifierTrainer a1(gpu(), one);
  auto ha = a1.run();
  nn::ClassifierTrainer b(gpu(), two);
  auto hb = b.run();
  BOOST_REQUIRE_EQUAL(b.replicas().size(), 2);
  BOOST_CHECK(flat_weights(b.replicas().model(1)) == flat_weights(b.model()));
  for (size_t e = 0; e < ha.size(); ++e) {
    BOOST_CHECK_CLOSE(ha[e].train_loss, hb[e].train_loss, 0.5);
    BOOST_CHECK_CLOSE(ha[e].val_loss, hb[e].val_loss, 0.5);
  }
  auto ta = a1.test(), tb = b.test();
  BOOST_CHECK_CLOSE(ta.loss, tb.loss, 0.5);
  BOOST_CHECK_LE(std::abs(ta.accuracy - tb.accuracy), 0.01);
  // Resume: one epoch, then the second from the checkpoint, equals both epochs in one go, on
  // both replicas, bit for bit.
  auto resumed_equals = [&](nn::TrainConfig c, const std::vector<float>& want) {
    c.out = (dir / (c.model + "_half")).string();
    c.epochs = 1;
    nn::ClassifierTrainer first(gpu(), c);
    first.run();
    c.epochs = 2;
    c.resume = true;
    nn::ClassifierTrainer second(gpu(), c);
    second.run();
    BOOST_CHECK(flat_weights(second.model()) == want);
    BOOST_CHECK(flat_weights(second.replicas().model(1)) == want);
  };
  resumed_equals(two, flat_weights(b.model()));
  nn::TrainConfig bad = two;
  bad.replicas = 0;
  BOOST_CHECK_THROW(nn::ClassifierTrainer(gpu(), bad), Error);
  // With dropout (the MLP): replica r draws its masks at step R * step + r, and a resumed run
  // draws the same ones.
  nn::TrainConfig mlp = two;
  mlp.model = "mlp";
  mlp.out = (dir / "mlp_full").string();
  nn::ClassifierTrainer m(gpu(), mlp);
  m.run();
  resumed_equals(mlp, flat_weights(m.model()));
  fs::remove_all(dir);
}
