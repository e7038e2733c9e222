// Non-deep baselines: kNN against a CPU brute force and on Fashion-MNIST, the linear classifiers.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "nets/baselines.h"
#include "nets/data/dataset.h"
#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::nn::baselines;
using vkwb::test::gpu;

namespace {

const data::Dataset& fashion_train() {
  static const data::Dataset ds = data::load_fashion_mnist(data::kDefaultFashionMnistDir, "train");
  return ds;
}
const data::Dataset& fashion_test() {
  static const data::Dataset ds = data::load_fashion_mnist(data::kDefaultFashionMnistDir, "test");
  return ds;
}

data::Dataset make_dataset(int n, int dim, int classes, const std::vector<float>& x, const std::vector<int32_t>& y) {
  data::Dataset ds;
  ds.n = n, ds.c = 1, ds.h = 1, ds.w = dim, ds.num_classes = classes;
  ds.images = x;
  ds.labels = y;
  return ds;
}

// Plain-loop reference: all distances in double, stable sort by (distance, index).
Neighbors brute_force(const data::Dataset& train, const std::vector<float>& q, int n, int k, Distance dist,
                      std::vector<std::vector<double>>* all = nullptr) {
  int dim = int(train.sample_size());
  Neighbors out{n, k, std::vector<int32_t>(size_t(n) * k), std::vector<float>(size_t(n) * k)};
  for (int i = 0; i < n; ++i) {
    std::vector<double> d(size_t(train.n));
    for (int j = 0; j < train.n; ++j) {
      double s = 0;
      for (int c = 0; c < dim; ++c) {
        double diff = double(q[size_t(i) * dim + c]) - train.image(j)[c];
        s += dist == Distance::l2 ? diff * diff : std::abs(diff);
      }
      d[j] = s;
    }
    std::vector<int> idx(size_t(train.n));
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return d[a] < d[b]; });
    for (int j = 0; j < k; ++j) out.index[size_t(i) * k + j] = idx[j], out.distance[size_t(i) * k + j] = float(d[idx[j]]);
    if (all) {
      std::sort(d.begin(), d.end());
      all->push_back(d);
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(knn)

BOOST_AUTO_TEST_CASE(majority_vote_ties_go_to_the_nearest) {
  std::vector<int32_t> a = {1, 2, 2, 1};
  BOOST_TEST(majority_vote(a.data(), 4, 3) == 1);
  std::vector<int32_t> b = {3, 1, 2};
  BOOST_TEST(majority_vote(b.data(), 3, 4) == 3);
  std::vector<int32_t> c = {0, 2, 2};
  BOOST_TEST(majority_vote(c.data(), 3, 3) == 2);
}

BOOST_AUTO_TEST_CASE(tiny_hand_made_set) {
  // Three clusters in the plane: class 0 near (0, 0), class 1 near (10, 10), class 2 near (0, 10);
  // one class-2 outlier sits at (1, 1) inside cluster 0.
  std::vector<float> x = {0, 0, 1, 0, 0, 1, 10, 10, 9, 10, 10, 9, 0, 10, 1, 10, 0, 9, 1, 1};
  std::vector<int32_t> y = {0, 0, 0, 1, 1, 1, 2, 2, 2, 2};
  data::Dataset train = make_dataset(10, 2, 3, x, y);
  std::vector<float> q = {0.2f, 0.3f, 9.5f, 9.5f, 0.5f, 9.0f, 1.2f, 1.2f};
  for (Distance d : {Distance::l2, Distance::l1}) {
    // k = 1: the outlier wins next to itself; k = 3: the cluster outvotes it.
    KnnClassifier knn1(gpu(), train, {.k = 1, .distance = d});
    BOOST_TEST(knn1.predict(q.data(), 4) == std::vector<int32_t>({0, 1, 2, 2}), boost::test_tools::per_element());
    KnnClassifier knn3(gpu(), train, {.k = 3, .distance = d});
    BOOST_TEST(knn3.predict(q.data(), 4) == std::vector<int32_t>({0, 1, 2, 0}), boost::test_tools::per_element());
    Neighbors nb = knn3.neighbors(q.data(), 1);   // (0.2, 0.3): (0,0), (1,1)?, ... by distance
    BOOST_TEST(nb.index[0] == 0);
    BOOST_TEST(nb.distance[0] == (d == Distance::l2 ? 0.13f : 0.5f), boost::test_tools::tolerance(1e-5f));
  }
}

BOOST_AUTO_TEST_CASE(agrees_with_cpu_brute_force) {
  const int n_train = 300, n_query = 41, dim = 37, classes = 4, k = 3;
  std::mt19937 g(5);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(size_t(n_train) * dim), q(size_t(n_query) * dim);
  std::vector<int32_t> y(static_cast<size_t>(n_train));
  for (auto& v : x) v = u(g);
  for (auto& v : q) v = u(g);
  for (auto& v : y) v = int32_t(g() % classes);
  data::Dataset train = make_dataset(n_train, dim, classes, x, y);
  for (Distance d : {Distance::l2, Distance::l1}) {
    std::vector<std::vector<double>> all;
    Neighbors ref = brute_force(train, q, n_query, k, d, &all);
    // Default blocks (one chunk) and tiny ones (many training chunks, one query per L1 block).
    for (size_t block : {size_t(32) << 20, size_t(4096)}) {
      KnnClassifier knn(gpu(), train, {.k = k, .distance = d, .max_block_bytes = block});
      Neighbors got = knn.neighbors(q.data(), n_query);
      std::vector<int32_t> pred = knn.predict(q.data(), n_query);
      int compared = 0;
      for (int i = 0; i < n_query; ++i) {
        for (int j = 0; j < k; ++j) {
          size_t p = size_t(i) * k + j;
          BOOST_TEST(got.distance[p] == ref.distance[p], boost::test_tools::tolerance(2e-4f));
        }
        // Indices and votes must match unless two distances around the k-th are a float-rounding apart.
        bool near_tie = false;
        for (int j = 0; j < k; ++j) near_tie |= all[i][j + 1] - all[i][j] < 1e-4 * (1 + all[i][j]);
        if (near_tie) continue;
        ++compared;
        std::vector<int32_t> lab(k);
        for (int j = 0; j < k; ++j) {
          BOOST_TEST(got.index[size_t(i) * k + j] == ref.index[size_t(i) * k + j], "query " << i << " neighbour " << j);
          lab[j] = y[ref.index[size_t(i) * k + j]];
        }
        BOOST_TEST(pred[i] == majority_vote(lab.data(), k, classes));
      }
      BOOST_TEST(compared > n_query * 3 / 4);
    }
  }
}

BOOST_AUTO_TEST_CASE(fashion_mnist_2000_vs_500) {
  data::Dataset train = data::subset(fashion_train(), 2000), test = data::subset(fashion_test(), 500);
  KnnClassifier knn(gpu(), train, {.k = 5, .distance = Distance::l2});
  double acc = accuracy(knn.predict(test), test.labels);
  std::printf("  kNN k=5 L2, 2000 train / 500 test Fashion-MNIST: accuracy %.3f\n", acc);
  BOOST_TEST(acc > 0.70);
  KnnClassifier knn_l1(gpu(), data::subset(train, 1000), {.k = 5, .distance = Distance::l1});
  double acc_l1 = accuracy(knn_l1.predict(data::subset(test, 200)), data::subset(test, 200).labels);
  std::printf("  kNN k=5 L1, 1000 train / 200 test Fashion-MNIST: accuracy %.3f\n", acc_l1);
  BOOST_TEST(acc_l1 > 0.65);
}

BOOST_AUTO_TEST_CASE(bad_options) {
  data::Dataset train = make_dataset(2, 2, 2, {0, 0, 1, 1}, {0, 1});
  BOOST_CHECK_THROW(KnnClassifier(gpu(), train, {.k = 3}), Error);
  BOOST_CHECK_THROW(KnnClassifier(gpu(), train, {.k = 0}), Error);
  BOOST_CHECK_THROW(distance_from_name("cosine"), Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(linear_classifier)

BOOST_AUTO_TEST_CASE(softmax_and_svm_on_fashion_mnist) {
  data::Dataset train = data::subset(fashion_train(), 5000, 3), test = data::subset(fashion_test(), 1000);
  for (const char* loss : {"softmax", "svm"}) {
    LinearClassifier lin = train_linear_classifier(gpu(), train, {.loss = loss, .epochs = 3, .seed = 7});
    double acc = accuracy(*lin.model, test, gpu(), /*flatten=*/true);
    std::printf("  linear %-7s 5000 train / 1000 test Fashion-MNIST, 3 epochs: loss %.4f -> %.4f, accuracy %.3f\n",
                loss, lin.epoch_loss.front(), lin.epoch_loss.back(), acc);
    BOOST_TEST(lin.epoch_loss.back() < lin.epoch_loss.front());
    BOOST_TEST(acc > 0.75, loss << ": accuracy " << acc);
  }
  BOOST_CHECK_THROW(train_linear_classifier(gpu(), train, {.loss = "hinge"}), Error);
}

BOOST_AUTO_TEST_SUITE_END()
