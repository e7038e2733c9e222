#include "nets/data/cifar.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "engine/error.h"

namespace vkwb::data {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> cifar10_class_names() {
  return {"airplane", "automobile", "bird", "cat", "deer",
          "dog",      "frog",       "horse", "ship", "truck"};
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error("cannot open data file " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t r;
  while ((r = std::fread(buf, 1, sizeof buf, f.get())) > 0) bytes.insert(bytes.end(), buf, buf + r);
  if (std::ferror(f.get())) throw Error("cannot read data file " + path + ": " + std::strerror(errno));
  return bytes;
}

void append_records(Dataset& ds, const std::string& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  if (bytes.empty() || bytes.size() % kCifarRecordBytes != 0)
    throw Error(path + ": truncated CIFAR-10 batch file: size " + std::to_string(bytes.size()) +
                " is not a positive multiple of the " + std::to_string(kCifarRecordBytes) +
                "-byte record");
  const size_t records = bytes.size() / kCifarRecordBytes;
  const size_t pixels = kCifarRecordBytes - 1;
  const size_t first = ds.labels.size();
  ds.images.resize((first + records) * pixels);
  ds.labels.resize(first + records);
  // A table gives exactly pixel / 255.0f (multiplying by 1/255 can be off by one ulp).
  float scale[256];
  for (int v = 0; v < 256; ++v) scale[v] = static_cast<float>(v) / 255.0f;
  for (size_t r = 0; r < records; ++r) {
    const uint8_t* rec = bytes.data() + r * kCifarRecordBytes;
    if (rec[0] >= 10)
      throw Error(path + ": label " + std::to_string(rec[0]) + " in record " + std::to_string(r) +
                  " is out of range (10 classes)");
    ds.labels[first + r] = rec[0];
    // The file's plane order R, G, B is already the [c, h, w] layout we keep.
    float* dst = ds.images.data() + (first + r) * pixels;
    for (size_t k = 0; k < pixels; ++k) dst[k] = scale[rec[1 + k]];
  }
  ds.n = static_cast<int>(ds.labels.size());
}

Dataset empty_cifar() {
  Dataset ds;
  ds.c = 3;
  ds.h = 32;
  ds.w = 32;
  ds.num_classes = 10;
  ds.class_names = cifar10_class_names();
  return ds;
}

}  // namespace

Dataset read_cifar10_batch(const std::string& path) {
  Dataset ds = empty_cifar();
  append_records(ds, path);
  return ds;
}

Dataset load_cifar10(const std::string& dir, const std::string& split) {
  std::vector<std::string> names;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else if (split == "test") {
    names.push_back("test_batch.bin");
  } else {
    throw Error("unknown CIFAR-10 split '" + split + "' (expected train or test)");
  }
  std::error_code ec;
  fs::path base = dir;
  if (!fs::exists(base / names[0], ec) && fs::exists(base / "cifar-10-batches-bin" / names[0], ec))
    base /= "cifar-10-batches-bin";
  std::string missing;
  for (const auto& n : names)
    if (!fs::exists(base / n, ec)) missing += (missing.empty() ? "" : ", ") + n;
  if (!missing.empty())
    throw Error("cannot find the CIFAR-10 " + split + " split in " + dir + ": missing " + missing +
                " (the binary version, cifar-10-binary.tar.gz); pass --data-dir");
  Dataset ds = empty_cifar();
  for (const auto& n : names) append_records(ds, (base / n).string());
  return ds;
}

}  // namespace vkwb::data
