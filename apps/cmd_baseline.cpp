// vkwb baseline: the non-deep reference points on an image data set: k-nearest neighbours (L2 or
// L1, on the device) and a linear classifier (softmax or multiclass SVM), trained on the training
// split and scored on the test split.
#include <chrono>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "apps/cli.h"
#include "nets/baselines.h"
#include "nets/train.h"

namespace vkwb::app {

namespace {

struct BaselineArgs {
  std::string method = "knn";
  int k = 5;
  std::string distance = "l2";
  nn::baselines::LinearClassifierOptions lin;
  nn::TrainConfig data;   // data, data_dir, limit_train, limit_test
  bool json = false;
};

void register_baseline(CLI::App& app) {
  auto* cmd = app.add_subcommand("baseline", "kNN or a linear classifier (softmax / multiclass SVM) on an image data set");
  auto a = std::make_shared<BaselineArgs>();
  cmd->add_option("--method", a->method, "knn, softmax or svm")->check(CLI::IsMember({"knn", "softmax", "svm"}))->capture_default_str();
  cmd->add_option("--k", a->k, "knn: neighbours")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--distance", a->distance, "knn: l2 or l1")->check(CLI::IsMember({"l2", "l1"}))->capture_default_str();
  cmd->add_option("--epochs", a->lin.epochs, "softmax/svm: epochs")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", a->lin.lr, "softmax/svm: learning rate (SGD with momentum)")->capture_default_str();
  cmd->add_option("--weight-decay", a->lin.weight_decay, "softmax/svm: L2 regularisation")->capture_default_str();
  cmd->add_option("--batch", a->lin.batch_size, "softmax/svm: batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--seed", a->lin.seed, "softmax/svm: initial weights and data order")->capture_default_str();
  cmd->add_option("--data", a->data.data, "fashion-mnist, mnist or cifar10")->capture_default_str();
  cmd->add_option("--data-dir", a->data.data_dir, "directory with the data files (default: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--limit-train", a->data.limit_train, "use only the first N training images (0: all)")->capture_default_str();
  cmd->add_option("--limit-test", a->data.limit_test, "use only the first N test images (0: all)")->capture_default_str();
  cmd->add_flag("--json", a->json, "print JSON");
  cmd->callback([a] {
    data::Dataset train, test;
    nn::load_classification_data(a->data, &train, &test);
    Device& dev = open_device();
    auto t0 = std::chrono::steady_clock::now();
    double acc = 0;
    nlohmann::json j = {{"method", a->method}, {"data", a->data.data}, {"train", train.n}, {"test", test.n}};
    if (a->method == "knn") {
      nn::baselines::KnnClassifier knn(dev, train, {.k = a->k, .distance = nn::baselines::distance_from_name(a->distance)});
      acc = nn::baselines::accuracy(knn.predict(test), test.labels);
      j["k"] = a->k;
      j["distance"] = a->distance;
    } else {
      nn::baselines::LinearClassifierOptions o = a->lin;
      o.loss = a->method;
      auto lin = nn::baselines::train_linear_classifier(dev, train, o);
      acc = nn::baselines::accuracy(*lin.model, test, dev, /*flatten=*/true);
      j["epochs"] = o.epochs;
      j["epoch_loss"] = lin.epoch_loss;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    j["test_accuracy"] = acc;
    j["seconds"] = secs;
    if (a->json) std::printf("%s\n", j.dump(2).c_str());
    else
      std::printf("%s on %s (%d train / %d test images): test accuracy %.4f, %.1f s\n", a->method.c_str(), a->data.data.c_str(),
                  train.n, test.n, acc, secs);
  });
}

}  // namespace

static Registrar reg(35, register_baseline);

}  // namespace vkwb::app
