// IDX files (the MNIST / Fashion-MNIST container): big-endian header "00 00 <type> <ndims>", one
// big-endian u32 per dimension, then the elements. Only unsigned bytes (type 0x08) are supported,
// which is what every image/label set in that format uses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace vkwb::data {

inline constexpr uint32_t kIdxImagesMagic = 0x00000803;  // u8, 3 dims: n, rows, cols
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // u8, 1 dim: n

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // row-major, size = product of dims
};

// Reads a gzip-compressed or raw IDX file (detected from its content, not its name) and checks the
// magic against `expected_magic`, the dimensions and the exact data size. Throws vkwb::Error on a
// missing, truncated or corrupt file, naming the file.
IdxArray read_idx(const std::string& path, uint32_t expected_magic);

inline IdxArray read_idx_images(const std::string& path) { return read_idx(path, kIdxImagesMagic); }
inline IdxArray read_idx_labels(const std::string& path) { return read_idx(path, kIdxLabelsMagic); }

// Writes an unsigned-byte IDX file, gzip-compressed when `gzip` is true (tests and tools that make
// small data sets).
void write_idx(const std::string& path, const std::vector<int64_t>& dims,
               const std::vector<uint8_t>& data, bool gzip);

}  // namespace vkwb::data
