// Checkpoint container: round trips, every error path, atomic replacement.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>

#include "io_test_util.h"
#include "nets/data/host_rng.h"
#include "nets/io/atomic_file.h"
#include "nets/io/checkpoint_file.h"

using namespace vkwb;
using namespace vkwb::io;
using test::contains;
using test::error_message;

namespace {

CheckpointData sample_checkpoint() {
  CheckpointData d;
  d.meta = {{"step", 1234}, {"config", {{"lr", 0.001}, {"layers", {64, 64}}}}, {"name", "run-α"}};
  d.blobs["w"] = make_blob(std::vector<float>{1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -1e30f}, {2, 3});
  d.blobs["m"] = make_blob(std::vector<double>{3.141592653589793, -0.5}, {2});
  d.blobs["scalar"] = make_blob(std::vector<int32_t>{-7}, {});
  d.blobs["steps"] = make_blob(std::vector<int64_t>{1, -2, 3, int64_t{1} << 40}, {1, 1, 4});
  d.blobs["empty"] = make_blob(std::vector<uint8_t>{}, {0, 5});
  d.blobs["bytes"] = make_blob(std::vector<uint8_t>{0, 255, 7});
  d.blobs["u32"] = make_blob(std::vector<uint32_t>{4000000000u, 1u});
  d.blobs["rng"] = make_blob(std::vector<uint64_t>{~uint64_t{0}, 42, 0, 9}, {2, 2});
  return d;
}

void check_equal(const CheckpointData& a, const CheckpointData& b) {
  BOOST_TEST(a.meta == b.meta);
  BOOST_REQUIRE(a.blobs.size() == b.blobs.size());
  for (const auto& [name, blob] : a.blobs) {
    BOOST_TEST_CONTEXT("blob " << name) {
      const Blob& other = get_blob(b, name);
      BOOST_TEST(blob.dtype == other.dtype);
      BOOST_TEST(blob.shape == other.shape, boost::test_tools::per_element());
      BOOST_TEST(blob.bytes == other.bytes, boost::test_tools::per_element());
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(round_trip_dtypes_and_shapes) {
  test::TempDir dir;
  const CheckpointData d = sample_checkpoint();
  write_checkpoint(dir.file("a.ckpt"), d);
  const CheckpointData r = read_checkpoint(dir.file("a.ckpt"));
  check_equal(d, r);
  BOOST_TEST(as_f32(get_blob(r, "w"))[2] == 3.25f);
  BOOST_TEST(as_f64(get_blob(r, "m"))[0] == 3.141592653589793);
  BOOST_TEST(as_i64(get_blob(r, "steps"))[3] == int64_t{1} << 40);
  BOOST_TEST(as_u64(get_blob(r, "rng"))[0] == ~uint64_t{0});
  BOOST_TEST(as_u32(get_blob(r, "u32"))[0] == 4000000000u);
  BOOST_TEST(as_i32(get_blob(r, "scalar")).size() == 1u);
  BOOST_TEST(as_u8(get_blob(r, "empty")).empty());
  BOOST_TEST(test::read_bytes(dir.file("a.ckpt")).size() > 20u);
  BOOST_TEST(std::string(reinterpret_cast<const char*>(test::read_bytes(dir.file("a.ckpt")).data()), 8) == "VKWBCKPT");
  // Only the checkpoint itself remains: no temp files.
  BOOST_TEST(dir.entries() == std::vector<std::string>{"a.ckpt"}, boost::test_tools::per_element());

  // Overwrite with different contents.
  CheckpointData d2;
  d2.blobs["x"] = make_blob(std::vector<float>(1000, 0.5f));
  write_checkpoint(dir.file("a.ckpt"), d2, {.compression_level = 6});
  check_equal(d2, read_checkpoint(dir.file("a.ckpt")));
}

BOOST_AUTO_TEST_CASE(typed_getters_and_helpers) {
  const Blob b = make_blob(std::vector<int32_t>{1, 2, 3});
  BOOST_TEST(b.shape == (std::vector<int64_t>{3}), boost::test_tools::per_element());
  BOOST_TEST(error_message([&] { as_f32(b); }) == "checkpoint blob has dtype i32, expected f32");
  BOOST_TEST(contains(error_message([&] { make_blob(std::vector<float>(5), {2, 3}); }), "shape holds 6 elements, data has 5"));
  CheckpointData d;
  BOOST_TEST(error_message([&] { get_blob(d, "nope"); }) == "checkpoint has no blob 'nope'");
  float dst[3];
  BOOST_TEST(contains(error_message([&] { copy_blob(b, "i32", dst, 2); }), "expected 2"));
  int32_t ok[3];
  copy_blob(b, "i32", ok, 3);
  BOOST_TEST(ok[2] == 3);
  const double raw[4] = {1, 2, 3, 4};
  const Blob rb = make_blob_raw("f64", {2, 2}, raw);
  BOOST_TEST(as_f64(rb)[3] == 4.0);
}

BOOST_AUTO_TEST_CASE(truncated_at_many_points) {
  test::TempDir dir;
  write_checkpoint(dir.file("a.ckpt"), sample_checkpoint());
  const std::vector<uint8_t> full = test::read_bytes(dir.file("a.ckpt"));
  const size_t header_len = full[12] | (full[13] << 8) | (full[14] << 16);
  const std::vector<size_t> cuts = {0, 4, 8, 10, 19, 20, 21, 20 + header_len / 2, 20 + header_len,
                                    20 + header_len + 5, full.size() - 5, full.size() - 1};
  for (size_t cut : cuts) {
    BOOST_TEST_CONTEXT("cut at " << cut << " of " << full.size()) {
      test::write_bytes(dir.file("cut.ckpt"), std::vector<uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut)));
      const std::string msg = error_message([&] { read_checkpoint(dir.file("cut.ckpt")); });
      BOOST_TEST(msg.rfind("truncated checkpoint " + dir.file("cut.ckpt") + ": expected", 0) == 0u, msg);
      BOOST_TEST(contains(msg, "got " + std::to_string(cut)), msg);
    }
  }
}

BOOST_AUTO_TEST_CASE(flipped_byte_is_a_crc_mismatch) {
  test::TempDir dir;
  CheckpointData d = sample_checkpoint();
  d.blobs["big"] = make_blob(std::vector<float>(4096, 0.25f));
  write_checkpoint(dir.file("a.ckpt"), d);
  const std::vector<uint8_t> full = test::read_bytes(dir.file("a.ckpt"));
  const size_t header_len = full[12] | (full[13] << 8) | (full[14] << 16);
  // In blob data, in the JSON meta (the string "run-" inside "name"), and in the CRC itself.
  const std::string text(full.begin(), full.end());
  const size_t in_meta = text.find("run-");
  BOOST_REQUIRE(in_meta != std::string::npos);
  for (size_t pos : {20 + header_len + 3, full.size() - 30, in_meta + 1, full.size() - 2}) {
    BOOST_TEST_CONTEXT("flip at " << pos) {
      std::vector<uint8_t> bad = full;
      bad[pos] ^= 0x10;
      test::write_bytes(dir.file("bad.ckpt"), bad);
      BOOST_TEST(error_message([&] { read_checkpoint(dir.file("bad.ckpt")); }) ==
                 "corrupt checkpoint " + dir.file("bad.ckpt") + ": CRC mismatch");
    }
  }
}

BOOST_AUTO_TEST_CASE(magic_version_missing) {
  test::TempDir dir;
  write_checkpoint(dir.file("a.ckpt"), sample_checkpoint());
  std::vector<uint8_t> full = test::read_bytes(dir.file("a.ckpt"));

  std::vector<uint8_t> png = full;
  png[0] = 0x89;
  test::write_bytes(dir.file("x.png"), png);
  BOOST_TEST(error_message([&] { read_checkpoint(dir.file("x.png")); }) ==
             dir.file("x.png") + " is not a vkwb checkpoint (bad magic)");
  test::write_bytes(dir.file("short"), {'P', 'K'});
  BOOST_TEST(contains(error_message([&] { read_checkpoint(dir.file("short")); }), "not a vkwb checkpoint"));

  std::vector<uint8_t> v2 = full;
  v2[8] = 2;
  test::write_bytes(dir.file("v2.ckpt"), v2);
  BOOST_TEST(error_message([&] { read_checkpoint(dir.file("v2.ckpt")); }) ==
             "checkpoint " + dir.file("v2.ckpt") + " has format version 2, this build reads version 1");

  BOOST_TEST(error_message([&] { read_checkpoint(dir.file("none.ckpt")); }) ==
             "cannot open checkpoint " + dir.file("none.ckpt") + ": No such file or directory");
  BOOST_TEST(contains(error_message([&] { read_checkpoint(dir.path()); }), "cannot read checkpoint"));
}

BOOST_AUTO_TEST_CASE(failed_writes_leave_the_previous_file_intact) {
  test::TempDir dir;
  const std::string path = dir.file("model.ckpt");
  write_checkpoint(path, sample_checkpoint());
  const std::vector<uint8_t> before = test::read_bytes(path);

  // An inconsistent blob is rejected before anything is written.
  CheckpointData bad;
  bad.blobs["w"] = Blob{"f32", {4}, std::vector<uint8_t>(15)};
  BOOST_TEST(contains(error_message([&] { write_checkpoint(path, bad); }), "holds 15 bytes, its dtype and shape need 16"));
  bad.blobs["w"] = Blob{"f16", {4}, std::vector<uint8_t>(8)};
  BOOST_TEST(contains(error_message([&] { write_checkpoint(path, bad); }), "unknown dtype 'f16'"));

  // Failure at the rename: the target is a directory.
  std::filesystem::create_directory(dir.file("is_a_dir"));
  BOOST_TEST(contains(error_message([&] { write_checkpoint(dir.file("is_a_dir"), sample_checkpoint()); }), "rename"));
  BOOST_TEST(std::filesystem::is_directory(dir.file("is_a_dir")));

  // Failure at creation: the directory does not exist.
  BOOST_TEST(contains(error_message([&] { write_checkpoint(dir.file("no/such/dir/x.ckpt"), sample_checkpoint()); }),
                      "cannot write " + dir.file("no/such/dir/x.ckpt")));

  // Failure midway through writing (the writer throws before commit).
  auto crash_midway = [&] {
    AtomicFile f(path);
    f.write("partial", 7);
    BOOST_TEST(std::filesystem::exists(f.temp_path()));
    throw std::runtime_error("simulated crash");
  };
  BOOST_CHECK_THROW(crash_midway(), std::runtime_error);

  BOOST_TEST(test::read_bytes(path) == before, boost::test_tools::per_element());
  std::vector<std::string> names = dir.entries();
  std::sort(names.begin(), names.end());
  BOOST_TEST(names == (std::vector<std::string>{"is_a_dir", "model.ckpt"}), boost::test_tools::per_element());
  check_equal(sample_checkpoint(), read_checkpoint(path));
}

BOOST_AUTO_TEST_CASE(write_speed_and_size_1m_floats) {
  // Weight-like data: normal(0, 0.05), as a freshly initialised layer.
  HostRng rng(7);
  std::vector<float> w(1 << 20);
  for (float& x : w) x = static_cast<float>(0.05 * rng.normal());
  CheckpointData d;
  d.blobs["w"] = make_blob(w);
  test::TempDir dir;
  for (int level : {1, 6}) {
    const auto t0 = std::chrono::steady_clock::now();
    write_checkpoint(dir.file("speed.ckpt"), d, {.compression_level = level});
    const double wsec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto t1 = std::chrono::steady_clock::now();
    const CheckpointData r = read_checkpoint(dir.file("speed.ckpt"));
    const double rsec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    const auto size = std::filesystem::file_size(dir.file("speed.ckpt"));
    BOOST_TEST_MESSAGE("checkpoint 1M f32, zlib level " << level << ": " << size << " bytes ("
                       << 100.0 * size / (4 << 20) << "%), write " << wsec * 1000 << " ms, read " << rsec * 1000 << " ms");
    BOOST_TEST(as_f32(get_blob(r, "w")) == w, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_SUITE_END()
