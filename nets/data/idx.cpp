#include "nets/data/idx.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/error.h"

namespace vkwb::data {
namespace {

// Anything larger is a corrupt header, not a data set: refuse before trying to allocate it.
constexpr int64_t kMaxIdxElements = int64_t{1} << 34;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", v);
  return buf;
}

// gzread with int-sized chunks (its length argument is unsigned int). Returns bytes read; stops
// early at end of data. Throws on corrupt compressed data.
int64_t gz_read_fully(gzFile f, uint8_t* dst, int64_t n, const std::string& path) {
  int64_t got = 0;
  while (got < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(n - got, INT_MAX / 2));
    const int r = gzread(f, dst + got, chunk);
    if (r < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      if (err == Z_ERRNO) throw Error("cannot read data file " + path + ": " + std::strerror(errno));
      throw Error(path + ": corrupt gzip data: " + (msg ? msg : "unknown zlib error"));
    }
    if (r == 0) break;
    got += r;
  }
  return got;
}

// After a short read or at the end: distinguishes a cut-off gzip stream (zlib reports it as
// Z_BUF_ERROR) from corrupt data.
void check_gz_state(gzFile f, const std::string& path) {
  int err = 0;
  const char* msg = gzerror(f, &err);
  if (err == Z_OK || err == Z_STREAM_END) return;
  if (err == Z_BUF_ERROR) throw Error(path + ": truncated gzip stream: " + (msg ? msg : ""));
  throw Error(path + ": corrupt gzip data: " + (msg ? msg : "unknown zlib error"));
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

IdxArray read_idx(const std::string& path, uint32_t expected_magic) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open data file " + path + ": " + std::strerror(errno));
  // gzdopen reads raw files transparently, so one path handles both .gz and uncompressed IDX.
  GzFile f(gzdopen(fd, "rb"));
  if (!f) {
    ::close(fd);
    throw Error("cannot open data file " + path + ": out of memory");
  }
  gzbuffer(f.get(), 1 << 18);

  uint8_t head[4];
  const int64_t got_head = gz_read_fully(f.get(), head, 4, path);
  if (got_head < 4) {
    check_gz_state(f.get(), path);
    throw Error(path + ": truncated IDX file: expected at least 4 bytes, got " +
                std::to_string(got_head));
  }
  const uint32_t magic = be32(head);
  if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] == 0 || head[3] > 4)
    throw Error(path + ": not an unsigned-byte IDX file (magic " + hex32(magic) + ", expected " +
                hex32(expected_magic) + ")");
  if (magic != expected_magic)
    throw Error(path + ": IDX file has " + std::to_string(head[3]) + " dimensions (magic " +
                hex32(magic) + "), expected " + std::to_string(expected_magic & 0xFF) +
                " (magic " + hex32(expected_magic) + ")");

  const int ndims = head[3];
  const int64_t header_bytes = 4 + 4 * int64_t{ndims};
  uint8_t dim_bytes[16];
  const int64_t got_dims = gz_read_fully(f.get(), dim_bytes, 4 * ndims, path);
  if (got_dims < 4 * ndims) {
    check_gz_state(f.get(), path);
    throw Error(path + ": truncated IDX file: expected at least " + std::to_string(header_bytes) +
                " bytes, got " + std::to_string(4 + got_dims));
  }
  IdxArray out;
  int64_t count = 1;
  for (int i = 0; i < ndims; ++i) {
    const uint32_t d = be32(dim_bytes + 4 * i);
    if (d == 0) throw Error(path + ": IDX dimension " + std::to_string(i) + " is zero");
    out.dims.push_back(d);
    count *= d;
    if (count > kMaxIdxElements)
      throw Error(path + ": IDX header claims an implausible size (corrupt header?)");
  }

  out.data.resize(static_cast<size_t>(count));
  const int64_t got = gz_read_fully(f.get(), out.data.data(), count, path);
  if (got < count) {
    check_gz_state(f.get(), path);
    throw Error(path + ": truncated IDX file: expected " + std::to_string(header_bytes + count) +
                " bytes, got " + std::to_string(header_bytes + got));
  }
  uint8_t extra;
  const int64_t more = gz_read_fully(f.get(), &extra, 1, path);
  check_gz_state(f.get(), path);  // a missing gzip trailer shows up only here
  if (more != 0)
    throw Error(path + ": IDX file is longer than its header says (expected " +
                std::to_string(header_bytes + count) + " bytes)");
  return out;
}

void write_idx(const std::string& path, const std::vector<int64_t>& dims,
               const std::vector<uint8_t>& data, bool gzip) {
  if (dims.empty() || dims.size() > 4) throw Error("write_idx " + path + ": need 1 to 4 dimensions");
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  if (count != static_cast<int64_t>(data.size()))
    throw Error("write_idx " + path + ": data size does not match the dimensions");
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (int64_t d : dims) {
    const uint32_t v = static_cast<uint32_t>(d);
    for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<uint8_t>(v >> s));
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  if (gzip) {
    GzFile f(gzopen(path.c_str(), "wb6"));
    if (!f) throw Error("cannot write data file " + path + ": " + std::strerror(errno));
    if (gzwrite(f.get(), bytes.data(), static_cast<unsigned>(bytes.size())) !=
        static_cast<int>(bytes.size()))
      throw Error("cannot write data file " + path);
    if (gzclose(f.release()) != Z_OK) throw Error("cannot write data file " + path);
  } else {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
    if (!f) throw Error("cannot write data file " + path + ": " + std::strerror(errno));
    if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size() ||
        std::fclose(f.release()) != 0)
      throw Error("cannot write data file " + path);
  }
}

}  // namespace vkwb::data
