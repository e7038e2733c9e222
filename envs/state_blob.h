// StateWriter / StateReader: the byte format behind Env::save_state() / load_state().
// A blob is: magic "VKES", a tag naming the environment and its state version, then the raw bytes
// of trivially copyable state structs. The tag catches the common mistake of loading one env's state
// into another; the blob is meant for snapshots within one build (same struct layout and endianness),
// not as a long-term file format.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/error.h"

namespace vkwb::envs {

class StateWriter {
 public:
  explicit StateWriter(std::string_view tag) {
    put_bytes("VKES", 4);
    const uint32_t n = uint32_t(tag.size());
    put(n);
    put_bytes(tag.data(), tag.size());
  }

  template <class T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "state blobs hold plain data only");
    put_bytes(&value, sizeof(T));
  }

  void put_bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + n);
  }

  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

class StateReader {
 public:
  StateReader(const std::vector<uint8_t>& blob, std::string_view tag) : blob_(blob), tag_(tag) {
    char magic[4] = {};
    uint32_t n = 0;
    if (blob.size() < 8) fail("blob is too short");
    get_bytes(magic, 4);
    if (std::memcmp(magic, "VKES", 4) != 0) fail("blob does not start with the env-state magic");
    get(n);
    if (n > blob.size() - pos_) fail("blob is truncated");
    const std::string got(reinterpret_cast<const char*>(blob.data() + pos_), n);
    pos_ += n;
    if (got != tag) {
      throw Error("load_state: the state was saved by '" + got + "' but this environment is '" +
                  std::string(tag) + "'");
    }
  }

  template <class T>
  void get(T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "state blobs hold plain data only");
    get_bytes(&value, sizeof(T));
  }

  void get_bytes(void* out, size_t n) {
    if (n > blob_.size() - pos_) fail("blob is truncated");
    std::memcpy(out, blob_.data() + pos_, n);
    pos_ += n;
  }

  // Call after reading everything: trailing bytes mean the blob came from a different layout.
  void finish() const {
    if (pos_ != blob_.size()) fail("blob has unexpected trailing bytes");
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw Error("load_state for '" + std::string(tag_) + "': " + why +
                " (pass a blob returned by save_state() of the same environment and build)");
  }

  const std::vector<uint8_t>& blob_;
  std::string_view tag_;
  size_t pos_ = 0;
};

}  // namespace vkwb::envs
