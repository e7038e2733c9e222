// Image-classifier training: the loop behind `vkwb train`. One training step is one device
// submission; the host syncs only to report progress (every `log_every` steps) and at epoch ends.
// A TrainSnapshot is published under a mutex after every report so a dashboard thread can read
// progress without touching the trainer.
#pragma once
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nets/data/dataset.h"
#include "nets/models/models.h"
#include "nets/optim.h"
#include "nets/parallel.h"

namespace vkwb::nn {

struct TrainConfig {
  std::string model = "lenet5";        // see `vkwb models`
  std::string data = "fashion-mnist";  // fashion-mnist, mnist, cifar10
  std::string data_dir;                // default: /usr/share/datasets/fashion-mnist (fashion-mnist)
  int epochs = 10;
  int batch = 64;
  std::string optimizer = "adam";      // sgd, momentum, nesterov, adagrad, adadelta, rmsprop, rmsprop_centered, adam, adamw
  float lr = 0.f;                      // 0: the optimizer's default
  float momentum = 0.9f;
  float weight_decay = 0.f;            // L2 (coupled; decoupled for adamw)
  std::string schedule = "constant";   // constant, step, cosine, plateau
  int step_size = 10;
  float gamma = 0.1f;
  int warmup_epochs = 0;
  float clip_norm = 0.f;               // global gradient-norm clipping (0: off)
  float label_smoothing = 0.f;
  int val_size = 5000;                 // held-out validation images from the training set (0: none)
  int early_stopping = 0;              // stop after this many epochs without val improvement (0: off)
  int crop_padding = 0;                // augmentation: random crop with zero padding
  bool flip = false;                   // augmentation: horizontal flip
  float erasing = 0.f;                 // augmentation: random-erasing probability
  float mixup = 0.f;                   // mixup alpha (0: off)
  float width = 1.f;                   // model width multiplier
  bool batch_norm = false;             // VGG: BN after every conv
  float dropout = 0.5f;
  int depth = 0;                       // ResNet / DenseNet depth (0: default)
  int limit_train = 0;                 // use only the first N training images (tests, quick runs)
  int limit_test = 0;                  // use only the first N test images
  uint64_t seed = 1;                   // weights, data order, augmentation, dropout
  std::string out;                     // run directory (empty: no files written)
  bool resume = false;                 // continue the run in `out` from its latest checkpoint
  int log_every = 50;                  // steps between progress reports (host syncs)
  int replicas = 1;                    // data-parallel replicas, each on a shard of every batch (nets/parallel.h)
  bool quiet = false;

  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& j);
};

// The TrainConfig fields a resumed run may change (everything else must match its config.json).
inline const std::set<std::string> kResumableFields = {"epochs", "data_dir", "log_every", "limit_test"};

struct EpochResult {
  int epoch = 0;
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, lr = 0, seconds = 0, images_per_sec = 0;
};

struct TestResult {
  double loss = 0, accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;   // [true][predicted]
  std::vector<int32_t> predictions;              // per image of the evaluated split
};

struct TrainSnapshot {
  int64_t step = 0, total_steps = 0;
  int epoch = 0;
  double loss = 0, images_per_sec = 0;
  std::vector<EpochResult> epochs;
  bool finished = false;
};

class ClassifierTrainer {
 public:
  // With cfg.replicas > 1 the model trains on Device::open_replicas(dev, replicas).
  ClassifierTrainer(Device& dev, const TrainConfig& cfg);
  // Trains all epochs (or until early stopping); returns per-epoch results.
  std::vector<EpochResult> run();
  // On the test split. flip_tta: test-time augmentation, the logits of each image and of its
  // horizontal mirror are averaged (the usual companion of training with --flip).
  TestResult test(bool flip_tta = false);
  void load_model(const std::string& checkpoint_path);   // weights only (vkwb eval)
  // <out>/samples/test_mistakes.png: up to `max` misclassified test images of `r` (a test() result)
  // in a grid, row-major; test_mistakes.json lists each tile's index, true and predicted class.
  // Returns the number of tiles (0: no run directory or no mistakes, nothing written).
  int save_test_mistakes(const TestResult& r, int max = 64) const;
  TrainSnapshot snapshot() const;
  Module& model() { return *model_; }
  DataParallel& replicas() { return *dp_; }
  const TrainConfig& config() const { return cfg_; }

 private:
  TestResult evaluate(const data::Dataset& ds, int max_n, bool flip_tta = false);
  void save_checkpoint(int epoch);
  int load_latest_checkpoint();          // returns the next epoch to run
  void publish(const TrainSnapshot& s);

  Device& dev_;
  TrainConfig cfg_;
  data::Dataset train_, val_, test_;
  std::unique_ptr<DataParallel> dp_;
  ModulePtr model_;       // replica 0's model and optimizer (what checkpoints hold)
  Optimizer* opt_ = nullptr;
  std::unique_ptr<LRSchedule> schedule_;
  std::vector<EpochResult> history_;
  int64_t step_ = 0;
  double best_val_loss_ = 1e30;   // early stopping: best validation loss so far,
  int bad_epochs_ = 0;            // epochs since it improved,
  bool stopped_early_ = false;    // and whether the run has stopped (all three in checkpoints)
  mutable std::mutex snap_mu_;
  TrainSnapshot snap_;
};

// Loads train/test splits for cfg.data (+ normalisation as the PyTorch peer does).
// The training config stored in a classifier checkpoint (clear error if it is not one).
TrainConfig checkpoint_config(const std::string& checkpoint_path);

void load_classification_data(const TrainConfig& cfg, data::Dataset* train, data::Dataset* test);

}  // namespace vkwb::nn
