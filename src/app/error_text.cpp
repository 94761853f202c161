#include "vsp/app/error_text.hpp"

#include <c10/util/Exception.h>

namespace vsp::app {

std::string torch_cause(const std::string& what) {
  std::string cause;
  size_t start = 0;
  while (start < what.size()) {
    size_t end = what.find('\n', start);
    if (end == std::string::npos) end = what.size();
    const std::string line = what.substr(start, end - start);
    if (line.find_first_not_of(" \t") != std::string::npos) cause = line;
    if (line.rfind("RuntimeError: ", 0) == 0) cause = line.substr(14);
    start = end + 1;
  }
  if (cause.find("TorchScript interpreter") != std::string::npos || cause.empty()) cause = what.substr(0, what.find('\n'));
  while (!cause.empty() && cause.front() == ' ') cause.erase(0, 1);
  return cause.size() > 300 ? cause.substr(0, 297) + "..." : cause;
}

std::string error_text(const std::exception& e) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) return torch_cause(torch_error->what_without_backtrace());
  return e.what();
}

}  // namespace vsp::app
