// KernelCache: pipeline warm-up from a manifest, the on-disk pipeline cache, manifest errors.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/kernels.h"
#include "engine/ops.h"
#include "support/op_check.h"

using namespace vkwb;
namespace fs = std::filesystem;

namespace {
fs::path temp_dir(const char* tag) {
  fs::path p = fs::temp_directory_path() / ("vkwb-test-" + std::string(tag) + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}
void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
}  // namespace

BOOST_AUTO_TEST_SUITE(kernel_cache)

BOOST_AUTO_TEST_CASE(manifest_round_trip_and_warm_up) {
  Device& d = test::gpu();
  if (d.is_cpu()) return;
  // Run a few ops so the device's cache holds pipelines with different spec constants.
  Tensor x = Tensor::from(std::vector<float>{-1, 2, -3, 4, 5, -6, 7}, {7}, d);
  float s = sum(relu(x) * sigmoid(x)).item();
  BOOST_CHECK_GT(s, 0.f);
  auto keys = d.kernels().keys();
  BOOST_REQUIRE_GE(keys.size(), 3u);
  BOOST_CHECK_EQUAL(keys.size(), d.kernels().size());

  fs::path dir = temp_dir("manifest");
  save_run_manifest(d, dir.string());
  auto loaded = KernelCache::load_manifest((dir / "pipelines.txt").string());
  BOOST_CHECK(loaded == keys);

  // A fresh cache on the same device (what a new process has) creates every one of them at once,
  // and nothing twice. Its pipeline cache goes to a directory of the test's own.
  fs::path cache = dir / "cache";
  ::setenv("VKWB_PIPELINE_CACHE", cache.c_str(), 1);
  std::string cache_file;
  {
    KernelCache fresh(d);
    cache_file = fresh.pipeline_cache_path();
    BOOST_CHECK(cache_file.rfind(cache.string(), 0) == 0);
    BOOST_CHECK_EQUAL(fresh.warm_up(loaded), loaded.size());
    BOOST_CHECK_EQUAL(fresh.size(), loaded.size());
    BOOST_CHECK_EQUAL(fresh.warm_up(loaded), 0u);
    BOOST_CHECK(fresh.keys() == keys);
    // get() after warm-up finds the pipeline instead of compiling again.
    fresh.get(keys[0].id, keys[0].spec, keys[0].texel_mask);
    BOOST_CHECK_EQUAL(fresh.size(), loaded.size());
  }
  ::unsetenv("VKWB_PIPELINE_CACHE");
  // The destructor stored the driver's pipeline cache: a valid Vulkan header for this device.
  BOOST_REQUIRE(fs::exists(cache_file));
  std::ifstream in(cache_file, std::ios::binary);
  uint32_t header[4] = {};
  in.read(reinterpret_cast<char*>(header), sizeof header);
  BOOST_REQUIRE(in.good());
  BOOST_CHECK_GE(header[0], 16u + VK_UUID_SIZE);
  BOOST_CHECK_EQUAL(header[1], uint32_t(VK_PIPELINE_CACHE_HEADER_VERSION_ONE));
  BOOST_CHECK_EQUAL(header[2], d.info().vendor_id);
  {
    // A second cache starts from that file (and a truncated file is ignored, not fatal).
    ::setenv("VKWB_PIPELINE_CACHE", cache.c_str(), 1);
    KernelCache again(d);
    BOOST_CHECK_EQUAL(again.warm_up(loaded), loaded.size());
    fs::resize_file(cache_file, 7);
    KernelCache truncated(d);
    BOOST_CHECK_EQUAL(truncated.warm_up({loaded[0]}), 1u);
  }
  {
    // Without the disk cache nothing is read or written, even with a cache directory set.
    fs::path off = dir / "off";
    ::setenv("VKWB_PIPELINE_CACHE", off.c_str(), 1);
    {
      KernelCache cold(d, /*disk_cache=*/false);
      BOOST_CHECK(cold.pipeline_cache_path().empty());
      BOOST_CHECK_EQUAL(cold.warm_up(loaded), loaded.size());
    }
    BOOST_CHECK(!fs::exists(off));
    ::unsetenv("VKWB_PIPELINE_CACHE");
  }
  // warm_up_run reads the run directory's manifest; without one it does nothing.
  KernelCache& live = d.kernels();
  size_t before = live.size();
  BOOST_CHECK_EQUAL(warm_up_run(d, dir.string()).pipelines, 0u);   // all already there
  BOOST_CHECK_EQUAL(live.size(), before);
  BOOST_CHECK_EQUAL(warm_up_run(d, (dir / "nothing").string()).pipelines, 0u);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(manifest_errors_name_file_and_line) {
  fs::path dir = temp_dir("manifest-bad");
  write(dir / "unknown.txt", "# header\nunary 0 128 1\nno_such_shader 0 1\n");
  write(dir / "bad.txt", "unary 0 128 x\n");
  write(dir / "short.txt", "unary\n");
  auto message = [](const fs::path& p) {
    try {
      KernelCache::load_manifest(p.string());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  BOOST_CHECK_NE(message(dir / "unknown.txt").find("unknown.txt:3: unknown shader 'no_such_shader'"), std::string::npos);
  BOOST_CHECK_NE(message(dir / "bad.txt").find("bad.txt:1: bad specialization constant"), std::string::npos);
  BOOST_CHECK_NE(message(dir / "short.txt").find("short.txt:1: expected"), std::string::npos);
  BOOST_CHECK_NE(message(dir / "missing.txt").find("cannot open pipeline manifest"), std::string::npos);
  // In a run directory a bad manifest only costs the warm-up.
  write(dir / "pipelines.txt", "no_such_shader 0\n");
  Device& d = test::gpu();
  if (!d.is_cpu()) BOOST_CHECK_EQUAL(warm_up_run(d, dir.string()).pipelines, 0u);
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
