// vkwb::Error: the one exception type for errors a user can act on. The CLI catches it, prints
// its message as one line to stderr and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace vkwb {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace vkwb
