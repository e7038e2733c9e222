// In-memory image classification data sets: images as float [n, c, h, w] (already scaled, e.g.
// pixel / 255), integer labels. Loaders for (Fashion-)MNIST live here, CIFAR-10 in cifar.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vkwb::data {

inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct Dataset {
  int n = 0, c = 0, h = 0, w = 0, num_classes = 0;
  std::vector<float> images;  // n * c * h * w, contiguous [n, c, h, w]
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;

  size_t sample_size() const { return static_cast<size_t>(c) * h * w; }
  const float* image(int i) const { return images.data() + static_cast<size_t>(i) * sample_size(); }
  float* image(int i) { return images.data() + static_cast<size_t>(i) * sample_size(); }
};

// Loads the "train" (60000) or "test" (10000) split from `dir`, which holds the four IDX files
// (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-...), gzip-compressed (.gz) or not.
// Pixels become floats in [0, 1]. Missing files give an error listing what was expected.
Dataset load_fashion_mnist(const std::string& dir = kDefaultFashionMnistDir,
                           const std::string& split = "train");
Dataset load_mnist(const std::string& dir, const std::string& split = "train");

// Per-channel mean and standard deviation over all pixels (population std, as torchvision's
// usual normalisation constants are computed).
struct ChannelStats {
  std::vector<float> mean, std;
};
ChannelStats compute_mean_std(const Dataset& ds);
// x = (x - mean[c]) / std[c] for each channel c.
void normalize(Dataset& ds, const std::vector<float>& mean, const std::vector<float>& std);

// The samples at `indices`, in that order.
Dataset select(const Dataset& ds, const std::vector<int64_t>& indices);
// The first n samples.
Dataset subset(const Dataset& ds, int n);
// n distinct samples picked by a seeded shuffle.
Dataset subset(const Dataset& ds, int n, uint64_t seed);

// Holds out n_val samples chosen by a seeded shuffle; both parts keep the original order of their
// samples, so a fixed seed gives the same split on every machine.
struct TrainVal {
  Dataset train, val;
};
TrainVal split_validation(const Dataset& ds, int n_val, uint64_t seed);

}  // namespace vkwb::data
