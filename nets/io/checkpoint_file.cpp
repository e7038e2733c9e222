#include "nets/io/checkpoint_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "engine/error.h"
#include "nets/io/atomic_file.h"

namespace vkwb::io {
namespace {

// Blob payloads are copied with memcpy; the format is little-endian, so a big-endian port would
// need byte swaps here and in make_blob/as_*.
static_assert(std::endian::native == std::endian::little, "checkpoint blobs assume a little-endian host");

constexpr char kMagic[8] = {'V', 'K', 'W', 'B', 'C', 'K', 'P', 'T'};
constexpr size_t kPreambleBytes = 8 + 4 + 8;
constexpr size_t kCrcBytes = 4;

void put_le32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_le64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t get_le32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// zlib's crc32 takes a uInt length; feed large buffers in pieces.
uint32_t crc_update(uint32_t crc, const uint8_t* p, size_t n) {
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(crc32(crc, p, chunk));
    p += chunk;
    n -= chunk;
  }
  return crc;
}

std::vector<uint8_t> read_all(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open checkpoint " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("cannot read checkpoint " + path + ": not a regular file");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t r = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      ::close(fd);
      throw Error("cannot read checkpoint " + path + ": " + std::strerror(err));
    }
    if (r == 0) break;  // shrank while reading; the size checks below report it
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  bytes.resize(got);
  return bytes;
}

struct BlobEntry {
  std::string name;
  Blob blob;  // bytes empty until decompressed
  uint64_t raw_size = 0, compressed_size = 0, offset = 0;
};

// Parses and checks the blob table; returns the file size it implies.
std::vector<BlobEntry> parse_table(const nlohmann::json& header, const std::string& path,
                                   uint64_t data_start, uint64_t* total_size) {
  const std::string where = "corrupt checkpoint " + path + ": ";
  if (!header.is_object() || !header.contains("blobs") || !header["blobs"].is_array())
    throw Error(where + "header has no blob table");
  std::vector<BlobEntry> entries;
  uint64_t running = 0;
  for (const auto& j : header["blobs"]) {
    BlobEntry e;
    try {
      e.name = j.at("name").get<std::string>();
      e.blob.dtype = j.at("dtype").get<std::string>();
      e.blob.shape = j.at("shape").get<std::vector<int64_t>>();
      e.raw_size = j.at("raw_size").get<uint64_t>();
      e.compressed_size = j.at("compressed_size").get<uint64_t>();
      e.offset = j.at("offset").get<uint64_t>();
    } catch (const nlohmann::json::exception& ex) {
      throw Error(where + "bad blob table entry: " + ex.what());
    }
    const std::string blob_where = where + "blob '" + e.name + "': ";
    const size_t es = dtype_size(e.blob.dtype);
    if (es == 0) throw Error(blob_where + "unknown dtype '" + e.blob.dtype + "'");
    for (int64_t d : e.blob.shape)
      if (d < 0) throw Error(blob_where + "negative dimension in shape");
    if (static_cast<uint64_t>(shape_numel(e.blob.shape)) * es != e.raw_size)
      throw Error(blob_where + "size " + std::to_string(e.raw_size) + " does not match dtype " +
                  e.blob.dtype + " and its shape");
    if (e.offset != running) throw Error(blob_where + "offset does not follow the previous blob");
    running += e.compressed_size;
    entries.push_back(std::move(e));
  }
  *total_size = data_start + running + kCrcBytes;
  return entries;
}

}  // namespace

size_t dtype_size(const std::string& dtype) {
  if (dtype == "f32" || dtype == "i32" || dtype == "u32") return 4;
  if (dtype == "f64" || dtype == "i64" || dtype == "u64") return 8;
  if (dtype == "u8") return 1;
  return 0;
}

int64_t shape_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void write_checkpoint(const std::string& path, const CheckpointData& data,
                      const CheckpointWriteOptions& opt) {
  std::vector<std::vector<uint8_t>> compressed;
  nlohmann::json table = nlohmann::json::array();
  uint64_t offset = 0;
  for (const auto& [name, blob] : data.blobs) {
    const size_t es = dtype_size(blob.dtype);
    if (name.empty()) throw Error("cannot write checkpoint " + path + ": a blob has an empty name");
    if (es == 0)
      throw Error("cannot write checkpoint " + path + ": blob '" + name + "' has unknown dtype '" +
                  blob.dtype + "'");
    for (int64_t d : blob.shape)
      if (d < 0) throw Error("cannot write checkpoint " + path + ": blob '" + name + "' has a negative dimension");
    if (static_cast<uint64_t>(shape_numel(blob.shape)) * es != blob.bytes.size())
      throw Error("cannot write checkpoint " + path + ": blob '" + name + "' holds " +
                  std::to_string(blob.bytes.size()) + " bytes, its dtype and shape need " +
                  std::to_string(static_cast<uint64_t>(shape_numel(blob.shape)) * es));
    uLongf len = compressBound(static_cast<uLong>(blob.bytes.size()));
    std::vector<uint8_t> out(len);
    const int rc = compress2(out.data(), &len, blob.bytes.data(), static_cast<uLong>(blob.bytes.size()),
                             opt.compression_level);
    if (rc != Z_OK)
      throw Error("cannot write checkpoint " + path + ": zlib error " + std::to_string(rc) +
                  " compressing blob '" + name + "'");
    out.resize(len);
    table.push_back({{"name", name},
                     {"dtype", blob.dtype},
                     {"shape", blob.shape},
                     {"raw_size", blob.bytes.size()},
                     {"compressed_size", out.size()},
                     {"offset", offset}});
    offset += out.size();
    compressed.push_back(std::move(out));
  }

  std::string header_json;
  try {
    header_json = nlohmann::json{{"meta", data.meta}, {"blobs", table}}.dump();
  } catch (const nlohmann::json::exception& ex) {
    throw Error("cannot write checkpoint " + path + ": metadata is not valid JSON: " + ex.what());
  }
  std::string head(kMagic, sizeof kMagic);
  put_le32(head, kCheckpointVersion);
  put_le64(head, header_json.size());
  head += header_json;

  AtomicFile file(path);
  uint32_t crc = static_cast<uint32_t>(crc32(0L, Z_NULL, 0));
  crc = crc_update(crc, reinterpret_cast<const uint8_t*>(head.data()), head.size());
  file.write(head);
  for (const auto& c : compressed) {
    crc = crc_update(crc, c.data(), c.size());
    file.write(c.data(), c.size());
  }
  std::string tail;
  put_le32(tail, crc);
  file.write(tail);
  file.commit();
}

CheckpointData read_checkpoint(const std::string& path) {
  const std::vector<uint8_t> bytes = read_all(path);
  const uint64_t size = bytes.size();
  const std::string min_size = std::to_string(kPreambleBytes + kCrcBytes);

  if (size < sizeof kMagic) {
    if (size == 0 || std::memcmp(bytes.data(), kMagic, size) == 0)
      throw Error("truncated checkpoint " + path + ": expected at least " + min_size +
                  " bytes, got " + std::to_string(size));
    throw Error(path + " is not a vkwb checkpoint (bad magic)");
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw Error(path + " is not a vkwb checkpoint (bad magic)");
  if (size < kPreambleBytes)
    throw Error("truncated checkpoint " + path + ": expected at least " + min_size + " bytes, got " +
                std::to_string(size));
  const uint32_t version = get_le32(bytes.data() + 8);
  if (version != kCheckpointVersion)
    throw Error("checkpoint " + path + " has format version " + std::to_string(version) +
                ", this build reads version " + std::to_string(kCheckpointVersion));
  const uint64_t header_len = get_le64(bytes.data() + 12);
  const bool header_fits = header_len <= size && kPreambleBytes + header_len + kCrcBytes <= size;
  const bool crc_ok = size >= kPreambleBytes + kCrcBytes &&
                      crc_update(static_cast<uint32_t>(crc32(0L, Z_NULL, 0)), bytes.data(), size - kCrcBytes) ==
                          get_le32(bytes.data() + size - kCrcBytes);

  if (!crc_ok) {
    // Both a cut-off file and a damaged one fail the CRC; the header, if readable, tells which.
    if (!header_fits)
      throw Error("truncated checkpoint " + path + ": expected at least " +
                  std::to_string(kPreambleBytes + header_len + kCrcBytes) + " bytes, got " +
                  std::to_string(size));
    try {
      const auto header = nlohmann::json::parse(bytes.begin() + kPreambleBytes,
                                                bytes.begin() + static_cast<int64_t>(kPreambleBytes + header_len));
      uint64_t expected = 0;
      parse_table(header, path, kPreambleBytes + header_len, &expected);
      if (expected > size)
        throw Error("truncated checkpoint " + path + ": expected " + std::to_string(expected) +
                    " bytes, got " + std::to_string(size));
    } catch (const nlohmann::json::exception&) {
    } catch (const Error& e) {
      if (std::string(e.what()).rfind("truncated", 0) == 0) throw;
    }
    throw Error("corrupt checkpoint " + path + ": CRC mismatch");
  }

  if (!header_fits) throw Error("corrupt checkpoint " + path + ": header length exceeds the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + kPreambleBytes,
                                   bytes.begin() + static_cast<int64_t>(kPreambleBytes + header_len));
  } catch (const nlohmann::json::exception& ex) {
    throw Error("corrupt checkpoint " + path + ": bad JSON header: " + ex.what());
  }
  const uint64_t data_start = kPreambleBytes + header_len;
  uint64_t expected = 0;
  std::vector<BlobEntry> entries = parse_table(header, path, data_start, &expected);
  if (expected != size)
    throw Error("corrupt checkpoint " + path + ": header describes " + std::to_string(expected) +
                " bytes, file has " + std::to_string(size));

  CheckpointData out;
  out.meta = header.contains("meta") ? header["meta"] : nlohmann::json::object();
  for (auto& e : entries) {
    if (out.blobs.count(e.name))
      throw Error("corrupt checkpoint " + path + ": duplicate blob '" + e.name + "'");
    e.blob.bytes.resize(e.raw_size);
    uLongf len = static_cast<uLongf>(e.raw_size);
    const int rc = uncompress(e.blob.bytes.data(), &len, bytes.data() + data_start + e.offset,
                              static_cast<uLong>(e.compressed_size));
    if (rc != Z_OK || len != e.raw_size)
      throw Error("corrupt checkpoint " + path + ": blob '" + e.name + "' does not decompress to " +
                  std::to_string(e.raw_size) + " bytes (zlib " + std::to_string(rc) + ")");
    out.blobs.emplace(e.name, std::move(e.blob));
  }
  return out;
}

namespace {

template <typename T>
Blob make_typed(const char* dtype, const std::vector<T>& v, std::vector<int64_t> shape) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  for (int64_t d : shape)
    if (d < 0) throw Error(std::string("make_blob: negative dimension"));
  if (shape_numel(shape) != static_cast<int64_t>(v.size()))
    throw Error("make_blob: shape holds " + std::to_string(shape_numel(shape)) + " elements, data has " +
                std::to_string(v.size()));
  Blob b;
  b.dtype = dtype;
  b.shape = std::move(shape);
  b.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.bytes.data(), v.data(), b.bytes.size());
  return b;
}

template <typename T>
std::vector<T> read_typed(const char* dtype, const Blob& b) {
  if (b.dtype != dtype)
    throw Error(std::string("checkpoint blob has dtype ") + b.dtype + ", expected " + dtype);
  if (b.bytes.size() % sizeof(T) != 0) throw Error("checkpoint blob size is not a whole number of elements");
  std::vector<T> v(b.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), b.bytes.data(), b.bytes.size());
  return v;
}

}  // namespace

Blob make_blob(const std::vector<float>& v, std::vector<int64_t> s) { return make_typed("f32", v, std::move(s)); }
Blob make_blob(const std::vector<double>& v, std::vector<int64_t> s) { return make_typed("f64", v, std::move(s)); }
Blob make_blob(const std::vector<int32_t>& v, std::vector<int64_t> s) { return make_typed("i32", v, std::move(s)); }
Blob make_blob(const std::vector<int64_t>& v, std::vector<int64_t> s) { return make_typed("i64", v, std::move(s)); }
Blob make_blob(const std::vector<uint8_t>& v, std::vector<int64_t> s) { return make_typed("u8", v, std::move(s)); }
Blob make_blob(const std::vector<uint32_t>& v, std::vector<int64_t> s) { return make_typed("u32", v, std::move(s)); }
Blob make_blob(const std::vector<uint64_t>& v, std::vector<int64_t> s) { return make_typed("u64", v, std::move(s)); }

Blob make_blob_raw(const std::string& dtype, std::vector<int64_t> shape, const void* data) {
  const size_t es = dtype_size(dtype);
  if (es == 0) throw Error("make_blob: unknown dtype '" + dtype + "'");
  for (int64_t d : shape)
    if (d < 0) throw Error("make_blob: negative dimension");
  Blob b;
  b.dtype = dtype;
  b.shape = std::move(shape);
  b.bytes.resize(static_cast<size_t>(shape_numel(b.shape)) * es);
  if (!b.bytes.empty()) std::memcpy(b.bytes.data(), data, b.bytes.size());
  return b;
}

std::vector<float> as_f32(const Blob& b) { return read_typed<float>("f32", b); }
std::vector<double> as_f64(const Blob& b) { return read_typed<double>("f64", b); }
std::vector<int32_t> as_i32(const Blob& b) { return read_typed<int32_t>("i32", b); }
std::vector<int64_t> as_i64(const Blob& b) { return read_typed<int64_t>("i64", b); }
std::vector<uint8_t> as_u8(const Blob& b) { return read_typed<uint8_t>("u8", b); }
std::vector<uint32_t> as_u32(const Blob& b) { return read_typed<uint32_t>("u32", b); }
std::vector<uint64_t> as_u64(const Blob& b) { return read_typed<uint64_t>("u64", b); }

void copy_blob(const Blob& b, const std::string& dtype, void* dst, int64_t count) {
  if (b.dtype != dtype) throw Error("checkpoint blob has dtype " + b.dtype + ", expected " + dtype);
  const size_t es = dtype_size(dtype);
  if (static_cast<uint64_t>(count) * es != b.bytes.size())
    throw Error("checkpoint blob has " + std::to_string(b.bytes.size() / es) + " elements, expected " +
                std::to_string(count));
  if (!b.bytes.empty()) std::memcpy(dst, b.bytes.data(), b.bytes.size());
}

const Blob& get_blob(const CheckpointData& data, const std::string& name) {
  const auto it = data.blobs.find(name);
  if (it == data.blobs.end()) throw Error("checkpoint has no blob '" + name + "'");
  return it->second;
}

}  // namespace vkwb::io
