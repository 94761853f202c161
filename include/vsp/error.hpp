#pragma once
#include <stdexcept>
#include <string>

namespace vsp {

// A user-facing failure: the message is one line that names the problem and how to fix it.
// The CLI prints it as "error: <message>" and exits non-zero.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A bad flag or flag value on the command line: exits 2, as other usage errors do.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace vsp
