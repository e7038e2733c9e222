// Non-deep baselines for the image classification data sets: k-nearest neighbours on the device and
// a linear classifier (softmax or multiclass SVM), the two reference points below any conv net.
//
//   KnnClassifier knn(dev, train, {.k = 5});                  // uploads the training images once
//   double acc = accuracy(knn.predict(test), test.labels);
//   auto lin = train_linear_classifier(dev, train, {.loss = "svm", .epochs = 5});
//   double acc2 = accuracy(*lin.model, test, dev, /*flatten=*/true);
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nets/data/dataset.h"
#include "nets/layers.h"

namespace vkwb::nn::baselines {

// --- k-nearest neighbours ------------------------------------------------------------------------
enum class Distance { l2, l1 };
Distance distance_from_name(const std::string& name);   // "l2" or "l1"

struct KnnOptions {
  int k = 5;
  Distance distance = Distance::l2;   // l2 reports squared distances (same order)
  // Upper bound for every device temporary (a block of distances, the L1 difference tensor, one
  // chunk of the training images), well below maxStorageBufferRange (128 MiB on lavapipe).
  size_t max_block_bytes = size_t(32) << 20;
};

// The k nearest training samples of each query, nearest first (equal distances: lower index first).
struct Neighbors {
  int queries = 0, k = 0;
  std::vector<int32_t> index;    // [queries, k] training-set indices
  std::vector<float> distance;   // [queries, k] (squared for l2)
};

// Brute force on the device. L2 distances come from one GEMM per block,
//   |a - b|^2 = |a|^2 + |b|^2 - 2 a.b,
// L1 ones from abs(sub(...)) over a broadcast [queries, train, dim] block summed over dim (about
// dim times more memory traffic: fine for small sets). The k smallest of each row are picked on the
// host in one pass over the row (the engine has no top-k; k rounds of argmin + masking on the
// device would sweep the whole block k times and need the same read-back anyway).
class KnnClassifier {
 public:
  KnnClassifier(Device& dev, const data::Dataset& train, KnnOptions o = {});
  Neighbors neighbors(const float* queries, int n) const;   // queries: n * sample_size floats
  std::vector<int32_t> predict(const float* queries, int n) const;
  std::vector<int32_t> predict(const data::Dataset& test) const;
  const KnnOptions& options() const { return o_; }

 private:
  void check_queries(int n) const;
  Device* dev_;
  KnnOptions o_;
  int n_ = 0, dim_ = 0, num_classes_ = 0;
  std::vector<Tensor> chunks_;          // training images in row chunks, [rows, dim]
  std::vector<Tensor> chunk_sq_norms_;  // [1, rows] (l2 only)
  std::vector<int64_t> chunk_begin_;
  std::vector<int32_t> labels_;
};

// Majority vote over `k` labels given nearest first; a tie goes to the tied class whose member comes
// first (i.e. the one with the nearest neighbour).
int32_t majority_vote(const int32_t* labels_nearest_first, int k, int num_classes);

// Fraction of equal entries.
double accuracy(const std::vector<int32_t>& predicted, const std::vector<int32_t>& labels);

// --- linear classifier ---------------------------------------------------------------------------
struct LinearClassifierOptions {
  std::string loss = "softmax";      // "softmax" (cross_entropy) or "svm" (multi_margin_loss)
  float margin = 1.f;                // svm margin
  int epochs = 5;
  int batch_size = 128;
  std::string optimizer = "momentum";   // any name make_optimizer knows
  float lr = 0.05f;
  float momentum = 0.9f;
  float weight_decay = 0.f;          // L2 regularisation (coupled, as torch.optim)
  uint64_t seed = 1;                 // initial weights and data order
};

struct LinearClassifier {
  std::shared_ptr<Linear> model;     // [classes, c*h*w]: takes flattened images
  std::vector<float> epoch_loss;     // mean training loss of each epoch
};

LinearClassifier train_linear_classifier(Device& dev, const data::Dataset& train, const LinearClassifierOptions& o = {});

// Accuracy of `model` (in eval mode, no graph) over `ds`, in batches; flatten = true feeds [n, c*h*w]
// (Linear, MLP without a Flatten layer), otherwise [n, c, h, w]. Restores the training mode.
double accuracy(Module& model, const data::Dataset& ds, Device& dev, bool flatten = false, int batch_size = 500);

}  // namespace vkwb::nn::baselines
