#include "nets/baselines.h"

#include <algorithm>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "nets/data/loader.h"
#include "nets/optim.h"

namespace vkwb::nn::baselines {

Distance distance_from_name(const std::string& name) {
  if (name == "l2") return Distance::l2;
  if (name == "l1") return Distance::l1;
  throw Error("unknown kNN distance '" + name + "' (l2, l1)");
}

// --- kNN -------------------------------------------------------------------------------------------

KnnClassifier::KnnClassifier(Device& dev, const data::Dataset& train, KnnOptions o) : dev_(&dev), o_(o) {
  if (train.n < 1) throw Error("kNN: the training set is empty");
  if (o.k < 1 || o.k > train.n)
    throw Error("kNN: k must be in [1, " + std::to_string(train.n) + "], got " + std::to_string(o.k));
  if (o.max_block_bytes < 4096) throw Error("kNN: max_block_bytes is too small");
  n_ = train.n;
  dim_ = int(train.sample_size());
  labels_ = train.labels;
  num_classes_ = train.num_classes;
  for (int32_t l : labels_) {
    if (l < 0) throw Error("kNN: negative label " + std::to_string(l));
    num_classes_ = std::max(num_classes_, l + 1);
  }
  int64_t rows = std::max<int64_t>(1, int64_t(o.max_block_bytes / (sizeof(float) * size_t(dim_))));
  for (int64_t b = 0; b < n_; b += rows) {
    int64_t r = std::min<int64_t>(rows, n_ - b);
    Tensor x = Tensor::from(std::span<const float>(train.image(int(b)), size_t(r) * dim_), {r, dim_}, dev);
    chunks_.push_back(x);
    chunk_begin_.push_back(b);
    if (o.distance == Distance::l2) chunk_sq_norms_.push_back(sum(square(x), 1).reshape({1, r}));
  }
}

void KnnClassifier::check_queries(int n) const {
  if (n < 0) throw Error("kNN: negative number of queries");
}

Neighbors KnnClassifier::neighbors(const float* queries, int n) const {
  check_queries(n);
  NoGradGuard no_grad;
  const int k = o_.k;
  Neighbors out;
  out.queries = n;
  out.k = k;
  out.index.assign(size_t(n) * k, -1);
  out.distance.assign(size_t(n) * k, std::numeric_limits<float>::infinity());
  if (n == 0) return out;

  // Queries per block: the distance rows of one block against the largest training chunk must fit.
  int64_t max_rows = chunks_.front().size(0);
  int64_t per_block = std::max<int64_t>(1, int64_t(o_.max_block_bytes / (sizeof(float) * size_t(max_rows))));
  // L1: the [q, rows, dim] difference tensor must fit, so take fewer queries and sub-chunk the rows.
  int64_t l1_rows = 0;
  if (o_.distance == Distance::l1) {
    int64_t pairs = std::max<int64_t>(1, int64_t(o_.max_block_bytes / (sizeof(float) * size_t(dim_))));
    per_block = std::min<int64_t>(per_block, std::max<int64_t>(1, std::min<int64_t>(64, pairs / 64)));
    l1_rows = std::max<int64_t>(1, pairs / per_block);
  }

  std::vector<float> row_block;
  for (int64_t q0 = 0; q0 < n; q0 += per_block) {
    int64_t m = std::min<int64_t>(per_block, n - q0);
    Tensor q = Tensor::from(std::span<const float>(queries + q0 * dim_, size_t(m) * dim_), {m, dim_}, *dev_);
    Tensor q_sq = o_.distance == Distance::l2 ? sum(square(q), 1, /*keepdim=*/true) : Tensor();
    float* best_d = out.distance.data() + q0 * k;
    int32_t* best_i = out.index.data() + q0 * k;
    for (size_t c = 0; c < chunks_.size(); ++c) {
      const Tensor& x = chunks_[c];
      int64_t rows = x.size(0);
      // Distances of this block, [m, rows] on the host.
      if (o_.distance == Distance::l2) {
        Tensor d = add(add(matmul(q, x, {.trans_b = true, .alpha = -2.f}), q_sq), chunk_sq_norms_[c]);
        row_block = d.to_vector();
      } else {
        row_block.assign(size_t(m) * rows, 0.f);
        Tensor q3 = q.reshape({m, 1, dim_});
        for (int64_t r0 = 0; r0 < rows; r0 += l1_rows) {
          int64_t r = std::min<int64_t>(l1_rows, rows - r0);
          Tensor xs = x.slice(r0, r0 + r).reshape({1, r, dim_});
          std::vector<float> part = sum(vkwb::abs(sub(q3, xs)), 2).to_vector();
          for (int64_t i = 0; i < m; ++i) std::copy_n(part.data() + i * r, r, row_block.data() + i * rows + r0);
        }
      }
      // Merge into the running k best of each query: one pass, insertion into a sorted array of k.
      // Strict '<' keeps the earlier (lower) index first among equal distances.
      for (int64_t i = 0; i < m; ++i) {
        const float* d = row_block.data() + i * rows;
        float* bd = best_d + i * k;
        int32_t* bi = best_i + i * k;
        for (int64_t j = 0; j < rows; ++j) {
          float v = std::max(d[j], 0.f);   // the GEMM form can dip slightly below 0
          if (!(v < bd[k - 1])) continue;
          int p = k - 1;
          while (p > 0 && v < bd[p - 1]) {
            bd[p] = bd[p - 1];
            bi[p] = bi[p - 1];
            --p;
          }
          bd[p] = v;
          bi[p] = int32_t(chunk_begin_[c] + j);
        }
      }
    }
  }
  return out;
}

std::vector<int32_t> KnnClassifier::predict(const float* queries, int n) const {
  Neighbors nb = neighbors(queries, n);
  std::vector<int32_t> pred(static_cast<size_t>(n)), lab(static_cast<size_t>(o_.k));
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < o_.k; ++j) lab[j] = labels_[nb.index[size_t(i) * o_.k + j]];
    pred[i] = majority_vote(lab.data(), o_.k, num_classes_);
  }
  return pred;
}

std::vector<int32_t> KnnClassifier::predict(const data::Dataset& test) const {
  if (test.n > 0 && int(test.sample_size()) != dim_)
    throw Error("kNN: test samples have " + std::to_string(test.sample_size()) + " values, training samples " +
                std::to_string(dim_));
  return predict(test.images.data(), test.n);
}

int32_t majority_vote(const int32_t* labels, int k, int num_classes) {
  std::vector<int> votes(size_t(std::max(num_classes, 1)), 0);
  int best = 0;
  for (int j = 0; j < k; ++j) {
    if (labels[j] < 0 || labels[j] >= num_classes) throw Error("majority_vote: label out of range");
    best = std::max(best, ++votes[labels[j]]);
  }
  for (int j = 0; j < k; ++j)
    if (votes[labels[j]] == best) return labels[j];
  return -1;   // k == 0
}

double accuracy(const std::vector<int32_t>& predicted, const std::vector<int32_t>& labels) {
  if (predicted.size() != labels.size())
    throw Error("accuracy: " + std::to_string(predicted.size()) + " predictions for " + std::to_string(labels.size()) + " labels");
  if (labels.empty()) return 0.0;
  size_t hit = 0;
  for (size_t i = 0; i < labels.size(); ++i) hit += predicted[i] == labels[i];
  return double(hit) / double(labels.size());
}

// --- linear classifier -----------------------------------------------------------------------------

LinearClassifier train_linear_classifier(Device& dev, const data::Dataset& train, const LinearClassifierOptions& o) {
  if (o.loss != "softmax" && o.loss != "svm") throw Error("linear classifier: unknown loss '" + o.loss + "' (softmax, svm)");
  if (train.n < 1) throw Error("linear classifier: the training set is empty");
  if (o.epochs < 1 || o.batch_size < 1) throw Error("linear classifier: epochs and batch_size must be >= 1");
  int dim = int(train.sample_size());
  int classes = train.num_classes;
  for (int32_t l : train.labels) classes = std::max(classes, l + 1);

  ModuleContext ctx(dev, o.seed);
  LinearClassifier out;
  out.model = std::make_shared<Linear>(ctx, dim, classes);
  auto opt = make_optimizer(o.optimizer, out.model->parameters(), o.lr, o.weight_decay, o.momentum);
  data::BatchLoader loader(train, {.batch_size = o.batch_size, .shuffle = true, .seed = o.seed});
  for (int e = 0; e < o.epochs; ++e) {
    loader.start_epoch(e);
    Tensor total;   // summed on the device: one sync per epoch
    int batches = 0;
    while (const data::Batch* b = loader.next()) {
      Tensor x = Tensor::from(b->x, {b->size, dim}, dev);
      Tensor y = Tensor::from(b->y, {b->size}, dev);
      opt->zero_grad();
      Tensor scores = out.model->forward(x);
      Tensor loss = o.loss == "softmax" ? cross_entropy(scores, y) : multi_margin_loss(scores, y, o.margin);
      loss.backward();
      opt->step();
      total = total.defined() ? add(total, loss.detach()) : loss.detach();
      ++batches;
    }
    out.epoch_loss.push_back(total.item() / float(batches));
  }
  return out;
}

double accuracy(Module& model, const data::Dataset& ds, Device& dev, bool flatten, int batch_size) {
  if (batch_size < 1) throw Error("accuracy: batch_size must be >= 1");
  if (ds.n == 0) return 0.0;
  bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  std::vector<int32_t> pred;
  pred.reserve(size_t(ds.n));
  for (int b = 0; b < ds.n; b += batch_size) {
    int m = std::min(batch_size, ds.n - b);
    std::span<const float> xs(ds.image(b), size_t(m) * ds.sample_size());
    Tensor x = flatten ? Tensor::from(xs, {m, int64_t(ds.sample_size())}, dev) : Tensor::from(xs, {m, ds.c, ds.h, ds.w}, dev);
    std::vector<int32_t> p = argmax(model.forward(x), 1).to_ivector();
    pred.insert(pred.end(), p.begin(), p.end());
  }
  model.train(was_training);
  return accuracy(pred, ds.labels);
}

}  // namespace vkwb::nn::baselines
