// Helpers shared by the io tests: a temporary directory, whole-file read/write, error capture.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/error.h"

#include "nets/data/dataset.h"

namespace vkwb::test {

// A fresh directory under $TMPDIR (or /tmp) for one test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/vkwb_test_XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Names of the entries in the directory (for checking that no temp files are left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_)) out.push_back(e.path().filename().string());
    return out;
  }

 private:
  std::string path_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The message of the vkwb::Error that f throws, or "<no error>".
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const vkwb::Error& e) {
    return e.what();
  }
  return "<no error>";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Sample i has every pixel = i + 0.001 * k (k = position), label i % 10.
inline data::Dataset counting_dataset(int n, int c = 1, int h = 2, int w = 3) {
  data::Dataset ds;
  ds.n = n;
  ds.c = c;
  ds.h = h;
  ds.w = w;
  ds.num_classes = 10;
  ds.images.resize(static_cast<size_t>(n) * c * h * w);
  for (int i = 0; i < n; ++i)
    for (size_t k = 0; k < ds.sample_size(); ++k) ds.image(i)[k] = static_cast<float>(i) + 0.001f * static_cast<float>(k);
  for (int i = 0; i < n; ++i) ds.labels.push_back(i % 10);
  return ds;
}

}  // namespace vkwb::test
