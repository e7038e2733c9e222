// AtomicFile: write a file so that readers see either the old contents or the complete new ones,
// never a torn mix, even if the process or the machine dies midway. Data goes to a temporary file
// in the same directory (same file system, so rename is atomic), which is flushed, fsync'ed, closed
// and renamed over the target; then the directory is fsync'ed so the rename itself is durable.
// If anything fails, or the object is destroyed before commit(), the temporary file is removed
// and the target is untouched.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace vkwb::io {

class AtomicFile {
 public:
  // Creates <path>.tmp.<pid>.<random> next to `path`. Throws vkwb::Error if that is impossible
  // (missing directory, no permission).
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Makes the new contents visible under `path`. Throws (and removes the temporary) on failure.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  void abandon() noexcept;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// One-shot helper: the whole file from a string.
void write_file_atomic(const std::string& path, std::string_view contents);

// fsync of a directory, so a rename or create inside it survives a crash. Best effort: some file
// systems refuse fsync on directories, and by then the data itself is already safe.
void sync_directory(const std::string& dir) noexcept;

}  // namespace vkwb::io
