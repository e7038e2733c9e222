#include "nets/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "engine/error.h"

namespace vkwb::io {
namespace {

std::string parent_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) throw Error("cannot write a file with an empty path");
  // The pid tells a stale temp file's origin; mkstemp's suffix keeps two writers of the same path
  // in one process (or a recycled pid) apart.
  std::string templ = path_ + ".tmp." + std::to_string(::getpid()) + ".XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  fd_ = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd_ < 0) throw Error("cannot write " + path_ + ": " + std::strerror(errno));
  temp_path_ = buf.data();
  // mkstemp creates 0600; checkpoints and configs are meant to be shared like ordinary files.
  ::fchmod(fd_, 0644);
}

AtomicFile::~AtomicFile() {
  if (!committed_) abandon();
}

void AtomicFile::abandon() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

void AtomicFile::write(const void* data, size_t size) {
  if (fd_ < 0) throw Error("cannot write " + path_ + ": file already committed or abandoned");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t r = ::write(fd_, p, size);
    if (r < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      abandon();
      throw Error("cannot write " + path_ + ": " + std::strerror(err));
    }
    p += r;
    size -= static_cast<size_t>(r);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw Error("cannot write " + path_ + ": file already committed or abandoned");
  auto fail = [&](const char* what) {
    const int err = errno;
    abandon();
    throw Error(std::string("cannot write ") + path_ + ": " + what + ": " + std::strerror(err));
  };
  if (::fsync(fd_) != 0) fail("fsync");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close");
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) fail("rename");
  temp_path_.clear();
  committed_ = true;
  sync_directory(parent_dir(path_));
}

void write_file_atomic(const std::string& path, std::string_view contents) {
  AtomicFile f(path);
  f.write(contents);
  f.commit();
}

void sync_directory(const std::string& dir) noexcept {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace vkwb::io
