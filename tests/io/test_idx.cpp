// IDX reading (gzip and raw), the (Fashion-)MNIST loaders, CIFAR-10 binary batches and the
// Dataset helpers.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "io_test_util.h"
#include "nets/data/cifar.h"
#include "nets/data/dataset.h"
#include "nets/data/idx.h"

using namespace vkwb;
using namespace vkwb::data;
using test::contains;
using test::error_message;

namespace {

std::vector<uint8_t> ramp(size_t n, int mul = 7) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * mul + 3) % 256);
  return v;
}

// A small MNIST-like directory: `n` images of h x w and labels i % 10.
void write_mnist_dir(const std::string& dir, const std::string& prefix, int n, int h, int w, bool gzip) {
  std::vector<uint8_t> labels(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = static_cast<uint8_t>(i % 10);
  const std::string ext = gzip ? ".gz" : "";
  write_idx(dir + "/" + prefix + "-images-idx3-ubyte" + ext, {n, h, w}, ramp(static_cast<size_t>(n * h * w)), gzip);
  write_idx(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, {n}, labels, gzip);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(idx)

BOOST_AUTO_TEST_CASE(real_fashion_mnist) {
  if (!std::filesystem::exists(kDefaultFashionMnistDir)) {
    BOOST_TEST_MESSAGE("skipped: " << kDefaultFashionMnistDir << " not installed");
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Dataset train = load_fashion_mnist(kDefaultFashionMnistDir, "train");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("Fashion-MNIST train load: " << secs << " s");
  BOOST_TEST(train.n == 60000);
  BOOST_TEST(train.c == 1);
  BOOST_TEST(train.h == 28);
  BOOST_TEST(train.w == 28);
  BOOST_TEST(train.images.size() == size_t{60000} * 784);
  BOOST_TEST(train.labels[0] == 9);
  BOOST_TEST(train.class_names[9] == "Ankle boot");
  std::vector<int> counts(10, 0);
  for (int32_t y : train.labels) {
    BOOST_REQUIRE(y >= 0);
    BOOST_REQUIRE(y < 10);
    ++counts[static_cast<size_t>(y)];
  }
  for (int c : counts) BOOST_TEST(c == 6000);  // the set is balanced
  const auto [mn, mx] = std::minmax_element(train.images.begin(), train.images.end());
  BOOST_TEST(*mn == 0.0f);
  BOOST_TEST(*mx == 1.0f);
  const Dataset test = load_fashion_mnist(kDefaultFashionMnistDir, "test");
  BOOST_TEST(test.n == 10000);
}

BOOST_AUTO_TEST_CASE(generated_gz_and_raw_round_trip) {
  test::TempDir dir;
  const std::vector<uint8_t> data = ramp(5 * 4 * 3);
  for (bool gz : {true, false}) {
    const std::string path = dir.file(gz ? "a.gz" : "a");
    write_idx(path, {5, 4, 3}, data, gz);
    const IdxArray a = read_idx_images(path);
    BOOST_TEST(a.dims == (std::vector<int64_t>{5, 4, 3}), boost::test_tools::per_element());
    BOOST_TEST(a.data == data, boost::test_tools::per_element());
  }
  // Content, not the name, decides: a raw file called .gz still reads.
  write_idx(dir.file("raw_named.gz"), {3}, {1, 2, 3}, false);
  BOOST_TEST(read_idx_labels(dir.file("raw_named.gz")).data == (std::vector<uint8_t>{1, 2, 3}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(mnist_loader_on_generated_files) {
  for (bool gz : {true, false}) {
    test::TempDir dir;
    write_mnist_dir(dir.path(), "train", 12, 4, 3, gz);
    write_mnist_dir(dir.path(), "t10k", 5, 4, 3, gz);
    const Dataset train = load_mnist(dir.path(), "train");
    BOOST_TEST(train.n == 12);
    BOOST_TEST(train.h == 4);
    BOOST_TEST(train.w == 3);
    BOOST_TEST(train.labels[11] == 1);
    BOOST_TEST(train.images[5] == ramp(6)[5] / 255.0f);
    BOOST_TEST(load_mnist(dir.path(), "test").n == 5);
    BOOST_TEST(contains(error_message([&] { load_mnist(dir.path(), "val"); }), "unknown MNIST split"));
  }
}

BOOST_AUTO_TEST_CASE(truncated_files) {
  test::TempDir dir;
  write_idx(dir.file("img"), {10, 28, 28}, ramp(10 * 784), false);
  std::vector<uint8_t> bytes = test::read_bytes(dir.file("img"));
  bytes.resize(1000);
  test::write_bytes(dir.file("img_cut"), bytes);
  const std::string msg = error_message([&] { read_idx_images(dir.file("img_cut")); });
  BOOST_TEST(msg == dir.file("img_cut") + ": truncated IDX file: expected 7856 bytes, got 1000");

  bytes.resize(10);  // inside the dimensions
  test::write_bytes(dir.file("img_head"), bytes);
  BOOST_TEST(contains(error_message([&] { read_idx_images(dir.file("img_head")); }), "truncated IDX file"));

  // A gzip stream cut in half.
  write_idx(dir.file("img.gz"), {10, 28, 28}, ramp(10 * 784), true);
  std::vector<uint8_t> gz = test::read_bytes(dir.file("img.gz"));
  gz.resize(gz.size() / 2);
  test::write_bytes(dir.file("img_cut.gz"), gz);
  BOOST_TEST(contains(error_message([&] { read_idx_images(dir.file("img_cut.gz")); }), "truncated"));

  // Only the gzip trailer (CRC + length) missing: all data is there but the file is still incomplete.
  gz = test::read_bytes(dir.file("img.gz"));
  gz.resize(gz.size() - 4);
  test::write_bytes(dir.file("img_notrailer.gz"), gz);
  BOOST_TEST(contains(error_message([&] { read_idx_images(dir.file("img_notrailer.gz")); }), "truncated"));
}

BOOST_AUTO_TEST_CASE(bad_magic_missing_and_corrupt) {
  test::TempDir dir;
  write_idx(dir.file("labels"), {4}, {1, 2, 3, 4}, false);
  const std::string wrong_kind = error_message([&] { read_idx_images(dir.file("labels")); });
  BOOST_TEST(contains(wrong_kind, "1 dimensions (magic 0x00000801), expected 3"), wrong_kind);

  test::write_bytes(dir.file("junk"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  BOOST_TEST(contains(error_message([&] { read_idx_labels(dir.file("junk")); }), "not an unsigned-byte IDX file"));

  const std::string missing = error_message([&] { read_idx_labels(dir.file("nope.gz")); });
  BOOST_TEST(missing == "cannot open data file " + dir.file("nope.gz") + ": No such file or directory");

  std::vector<uint8_t> longer = test::read_bytes(dir.file("labels"));
  longer.push_back(0);
  test::write_bytes(dir.file("labels_long"), longer);
  BOOST_TEST(contains(error_message([&] { read_idx_labels(dir.file("labels_long")); }), "longer than its header"));

  // Damaged compressed data: zlib notices (bad code or CRC).
  write_idx(dir.file("img.gz"), {20, 28, 28}, ramp(20 * 784, 13), true);
  std::vector<uint8_t> gz = test::read_bytes(dir.file("img.gz"));
  for (size_t i = gz.size() / 3; i < gz.size() / 3 + 16; ++i) gz[i] ^= 0x5A;
  test::write_bytes(dir.file("img_bad.gz"), gz);
  const std::string corrupt = error_message([&] { read_idx_images(dir.file("img_bad.gz")); });
  BOOST_TEST((contains(corrupt, "corrupt gzip") || contains(corrupt, "truncated")), corrupt);

  const std::string no_set = error_message([&] { load_fashion_mnist(dir.path(), "train"); });
  BOOST_TEST(contains(no_set, "train-images-idx3-ubyte.gz"), no_set);
  BOOST_TEST(contains(no_set, "apt-get install dataset-fashion-mnist"), no_set);
}

BOOST_AUTO_TEST_CASE(label_out_of_range) {
  test::TempDir dir;
  write_idx(dir.file("train-images-idx3-ubyte"), {2, 2, 2}, ramp(8), false);
  write_idx(dir.file("train-labels-idx1-ubyte"), {2}, {3, 12}, false);
  BOOST_TEST(contains(error_message([&] { load_mnist(dir.path(), "train"); }), "label 12 at index 1 is out of range"));
  write_idx(dir.file("train-labels-idx1-ubyte"), {3}, {3, 1, 2}, false);
  BOOST_TEST(contains(error_message([&] { load_mnist(dir.path(), "train"); }), "2 images but"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cifar)

namespace {
uint8_t cifar_pixel(int record, int c, int y, int x) { return static_cast<uint8_t>((record * 31 + c * 7 + y * 3 + x) % 256); }

void write_cifar_file(const std::string& path, int first_record, int records) {
  std::vector<uint8_t> bytes;
  for (int r = first_record; r < first_record + records; ++r) {
    bytes.push_back(static_cast<uint8_t>(r % 10));
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) bytes.push_back(cifar_pixel(r, c, y, x));
  }
  test::write_bytes(path, bytes);
}
}  // namespace

BOOST_AUTO_TEST_CASE(generated_round_trip) {
  test::TempDir dir;
  std::filesystem::create_directory(dir.file("cifar-10-batches-bin"));
  for (int i = 1; i <= 5; ++i)
    write_cifar_file(dir.file("cifar-10-batches-bin/data_batch_" + std::to_string(i) + ".bin"), (i - 1) * 3, 3);
  write_cifar_file(dir.file("cifar-10-batches-bin/test_batch.bin"), 100, 2);

  const Dataset train = load_cifar10(dir.path(), "train");  // finds the archive's subdirectory
  BOOST_TEST(train.n == 15);
  BOOST_TEST(train.c == 3);
  BOOST_TEST(train.h == 32);
  BOOST_TEST(train.num_classes == 10);
  BOOST_TEST(train.class_names[3] == "cat");
  bool all_ok = true;
  for (int r = 0; r < 15; ++r) {
    all_ok &= train.labels[static_cast<size_t>(r)] == r % 10;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x)
          all_ok &= train.image(r)[(c * 32 + y) * 32 + x] == cifar_pixel(r, c, y, x) / 255.0f;
  }
  BOOST_TEST(all_ok);
  const Dataset test_split = load_cifar10(dir.file("cifar-10-batches-bin"), "test");
  BOOST_TEST(test_split.n == 2);
  BOOST_TEST(test_split.labels[1] == 1);
}

BOOST_AUTO_TEST_CASE(truncated_and_missing) {
  test::TempDir dir;
  write_cifar_file(dir.file("test_batch.bin"), 0, 2);
  std::vector<uint8_t> bytes = test::read_bytes(dir.file("test_batch.bin"));
  bytes.resize(bytes.size() - 100);
  test::write_bytes(dir.file("test_batch.bin"), bytes);
  const std::string msg = error_message([&] { load_cifar10(dir.path(), "test"); });
  BOOST_TEST(contains(msg, "truncated CIFAR-10 batch file: size 6046"), msg);
  const std::string missing = error_message([&] { load_cifar10(dir.path(), "train"); });
  BOOST_TEST(contains(missing, "missing data_batch_1.bin, data_batch_2.bin"), missing);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dataset)

using test::counting_dataset;

BOOST_AUTO_TEST_CASE(mean_std_and_normalize) {
  Dataset ds;
  ds.n = 2;
  ds.c = 2;
  ds.h = 1;
  ds.w = 2;
  ds.images = {0, 2, 10, 10, 4, 6, 30, 30};  // channel 0: 0 2 4 6; channel 1: 10 10 30 30
  ds.labels = {0, 1};
  const ChannelStats st = compute_mean_std(ds);
  BOOST_TEST(st.mean[0] == 3.0f, boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(st.std[0] == std::sqrt(5.0f), boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(st.mean[1] == 20.0f, boost::test_tools::tolerance(1e-6f));
  BOOST_TEST(st.std[1] == 10.0f, boost::test_tools::tolerance(1e-6f));
  normalize(ds, st.mean, st.std);
  const ChannelStats after = compute_mean_std(ds);
  for (int c = 0; c < 2; ++c) {
    BOOST_TEST(std::fabs(after.mean[static_cast<size_t>(c)]) < 1e-6f);
    BOOST_TEST(after.std[static_cast<size_t>(c)] == 1.0f, boost::test_tools::tolerance(1e-5f));
  }
  BOOST_TEST(contains(error_message([&] { normalize(ds, {0.5f}, {1.0f}); }), "need 2 mean"));
}

BOOST_AUTO_TEST_CASE(split_and_subset) {
  const Dataset ds = counting_dataset(50, 1, 2, 2);
  const TrainVal a = split_validation(ds, 10, 42), b = split_validation(ds, 10, 42), c = split_validation(ds, 10, 43);
  BOOST_TEST(a.train.n == 40);
  BOOST_TEST(a.val.n == 10);
  BOOST_TEST(a.val.images == b.val.images, boost::test_tools::per_element());
  BOOST_TEST(a.val.images != c.val.images);
  std::vector<int> seen(50, 0);
  for (const Dataset* part : {&a.train, &a.val})
    for (int i = 0; i < part->n; ++i) {
      const int orig = static_cast<int>(part->image(i)[0]);
      ++seen[static_cast<size_t>(orig)];
      BOOST_TEST(part->labels[static_cast<size_t>(i)] == orig % 10);
    }
  BOOST_TEST(std::count(seen.begin(), seen.end(), 1) == 50);

  const Dataset first = subset(ds, 5);
  BOOST_TEST(first.n == 5);
  BOOST_TEST(first.image(4)[0] == 4.0f);
  const Dataset r1 = subset(ds, 7, 1), r2 = subset(ds, 7, 1);
  BOOST_TEST(r1.images == r2.images, boost::test_tools::per_element());
  BOOST_TEST(contains(error_message([&] { subset(ds, 51); }), "asked for 51 of 50"));
}

BOOST_AUTO_TEST_SUITE_END()
