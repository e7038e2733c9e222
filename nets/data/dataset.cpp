#include "nets/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/error.h"
#include "nets/data/host_rng.h"
#include "nets/data/idx.h"

namespace vkwb::data {
namespace {

namespace fs = std::filesystem;

// Prefers the .gz file (what Debian's dataset packages ship), falls back to the uncompressed name.
std::string find_idx(const std::string& dir, const std::string& stem) {
  const fs::path gz = fs::path(dir) / (stem + ".gz");
  const fs::path raw = fs::path(dir) / stem;
  std::error_code ec;
  if (fs::exists(gz, ec)) return gz.string();
  if (fs::exists(raw, ec)) return raw.string();
  return {};
}

Dataset load_idx_pair(const std::string& dir, const std::string& split, const std::string& what,
                      const std::string& install_hint, std::vector<std::string> class_names) {
  if (split != "train" && split != "test")
    throw Error("unknown " + what + " split '" + split + "' (expected train or test)");
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images_stem = prefix + "-images-idx3-ubyte";
  const std::string labels_stem = prefix + "-labels-idx1-ubyte";
  const std::string images_path = find_idx(dir, images_stem);
  const std::string labels_path = find_idx(dir, labels_stem);
  if (images_path.empty() || labels_path.empty())
    throw Error("cannot find the " + what + " " + split + " split in " + dir + ": expected " +
                images_stem + ".gz and " + labels_stem + ".gz (or uncompressed); " + install_hint);

  const IdxArray images = read_idx_images(images_path);
  const IdxArray labels = read_idx_labels(labels_path);
  if (images.dims[0] != labels.dims[0])
    throw Error(images_path + " has " + std::to_string(images.dims[0]) + " images but " +
                labels_path + " has " + std::to_string(labels.dims[0]) + " labels");

  Dataset ds;
  ds.n = static_cast<int>(images.dims[0]);
  ds.c = 1;
  ds.h = static_cast<int>(images.dims[1]);
  ds.w = static_cast<int>(images.dims[2]);
  ds.num_classes = static_cast<int>(class_names.size());
  ds.class_names = std::move(class_names);
  ds.images.resize(images.data.size());
  // A table gives exactly pixel / 255.0f (multiplying by 1/255 can be off by one ulp).
  float scale[256];
  for (int v = 0; v < 256; ++v) scale[v] = static_cast<float>(v) / 255.0f;
  for (size_t i = 0; i < images.data.size(); ++i) ds.images[i] = scale[images.data[i]];
  ds.labels.resize(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= ds.num_classes)
      throw Error(labels_path + ": label " + std::to_string(labels.data[i]) + " at index " +
                  std::to_string(i) + " is out of range (" + std::to_string(ds.num_classes) +
                  " classes)");
    ds.labels[i] = labels.data[i];
  }
  return ds;
}

Dataset empty_like(const Dataset& ds, int n) {
  Dataset out;
  out.n = n;
  out.c = ds.c;
  out.h = ds.h;
  out.w = ds.w;
  out.num_classes = ds.num_classes;
  out.class_names = ds.class_names;
  out.images.resize(static_cast<size_t>(n) * ds.sample_size());
  out.labels.resize(static_cast<size_t>(n));
  return out;
}

}  // namespace

Dataset load_fashion_mnist(const std::string& dir, const std::string& split) {
  return load_idx_pair(dir, split, "Fashion-MNIST",
                       "install it with `apt-get install dataset-fashion-mnist` or pass --data-dir",
                       {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                        "Sneaker", "Bag", "Ankle boot"});
}

Dataset load_mnist(const std::string& dir, const std::string& split) {
  return load_idx_pair(dir, split, "MNIST",
                       "download the four MNIST IDX files there or pass --data-dir",
                       {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
}

ChannelStats compute_mean_std(const Dataset& ds) {
  ChannelStats st;
  const size_t plane = static_cast<size_t>(ds.h) * ds.w;
  for (int ch = 0; ch < ds.c; ++ch) {
    // Two passes in double: float sums over 47M pixels lose several digits.
    double sum = 0;
    for (int i = 0; i < ds.n; ++i) {
      const float* p = ds.image(i) + ch * plane;
      for (size_t k = 0; k < plane; ++k) sum += p[k];
    }
    const double count = static_cast<double>(plane) * ds.n;
    const double mean = count > 0 ? sum / count : 0.0;
    double sq = 0;
    for (int i = 0; i < ds.n; ++i) {
      const float* p = ds.image(i) + ch * plane;
      for (size_t k = 0; k < plane; ++k) sq += (p[k] - mean) * (p[k] - mean);
    }
    st.mean.push_back(static_cast<float>(mean));
    st.std.push_back(static_cast<float>(count > 0 ? std::sqrt(sq / count) : 0.0));
  }
  return st;
}

void normalize(Dataset& ds, const std::vector<float>& mean, const std::vector<float>& std) {
  if (static_cast<int>(mean.size()) != ds.c || static_cast<int>(std.size()) != ds.c)
    throw Error("normalize: need " + std::to_string(ds.c) + " mean and std values, got " +
                std::to_string(mean.size()) + " and " + std::to_string(std.size()));
  for (float s : std)
    if (!(s > 0)) throw Error("normalize: std must be positive");
  const size_t plane = static_cast<size_t>(ds.h) * ds.w;
  for (int i = 0; i < ds.n; ++i)
    for (int ch = 0; ch < ds.c; ++ch) {
      float* p = ds.image(i) + ch * plane;
      const float m = mean[ch], inv = 1.0f / std[ch];
      for (size_t k = 0; k < plane; ++k) p[k] = (p[k] - m) * inv;
    }
}

Dataset select(const Dataset& ds, const std::vector<int64_t>& indices) {
  Dataset out = empty_like(ds, static_cast<int>(indices.size()));
  const size_t s = ds.sample_size();
  for (size_t j = 0; j < indices.size(); ++j) {
    const int64_t i = indices[j];
    if (i < 0 || i >= ds.n)
      throw Error("select: index " + std::to_string(i) + " out of range for " +
                  std::to_string(ds.n) + " samples");
    std::copy_n(ds.images.data() + static_cast<size_t>(i) * s, s, out.images.data() + j * s);
    out.labels[j] = ds.labels[static_cast<size_t>(i)];
  }
  return out;
}

Dataset subset(const Dataset& ds, int n) {
  if (n < 0 || n > ds.n)
    throw Error("subset: asked for " + std::to_string(n) + " of " + std::to_string(ds.n) +
                " samples");
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  return select(ds, idx);
}

Dataset subset(const Dataset& ds, int n, uint64_t seed) {
  if (n < 0 || n > ds.n)
    throw Error("subset: asked for " + std::to_string(n) + " of " + std::to_string(ds.n) +
                " samples");
  std::vector<int64_t> perm = seeded_permutation(ds.n, seed);
  perm.resize(static_cast<size_t>(n));
  return select(ds, perm);
}

TrainVal split_validation(const Dataset& ds, int n_val, uint64_t seed) {
  if (n_val < 0 || n_val > ds.n)
    throw Error("split_validation: cannot hold out " + std::to_string(n_val) + " of " +
                std::to_string(ds.n) + " samples");
  const std::vector<int64_t> perm = seeded_permutation(ds.n, seed);
  std::vector<char> is_val(static_cast<size_t>(ds.n), 0);
  for (int i = 0; i < n_val; ++i) is_val[static_cast<size_t>(perm[static_cast<size_t>(i)])] = 1;
  std::vector<int64_t> train_idx, val_idx;
  for (int i = 0; i < ds.n; ++i) (is_val[static_cast<size_t>(i)] ? val_idx : train_idx).push_back(i);
  return {select(ds, train_idx), select(ds, val_idx)};
}

}  // namespace vkwb::data
