#include "vsp/app/error_text.hpp"

#include <c10/util/Exception.h>

#include <filesystem>
#include <new>
#include <nlohmann/json.hpp>

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
  if (cause.find("TorchScript interpreter") != std::string::npos || cause.empty())
    cause = what.substr(0, what.find('\n'));
  while (!cause.empty() && cause.front() == ' ') cause.erase(0, 1);
  return cause.size() > 300 ? cause.substr(0, 297) + "..." : cause;
}

std::string error_text(const std::exception& e) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e))
    return torch_cause(torch_error->what_without_backtrace());
  return e.what();
}

std::string failure_text(const std::exception& e, const std::string& memory_advice) {
  std::string cause = error_text(e);
  const std::string what = e.what();
  // An allocation can fail inside a TorchScript call, which wraps it in a traceback of its own.
  const bool out_of_memory =
      dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr || dynamic_cast<const std::bad_alloc*>(&e) != nullptr ||
      what.find("out of memory") != std::string::npos || what.find("DefaultCPUAllocator") != std::string::npos;
  if (out_of_memory) {
    for (const char* marker : {"DefaultCPUAllocator", "out of memory"}) {
      const auto at = what.find(marker);
      if (at != std::string::npos) cause = what.substr(at, std::min(what.find('\n', at), at + 200) - at);
    }
    return "out of memory (" + cause + "); " + memory_advice + ", or close other programs";
  }
  if (const auto* file_error = dynamic_cast<const std::filesystem::filesystem_error*>(&e))
    return "cannot use " + file_error->path1().string() + " (" + file_error->code().message() + ")";
  if (dynamic_cast<const nlohmann::json::exception*>(&e) != nullptr)
    return std::string("unexpected JSON problem: ") + what + "; please report it";
  if (dynamic_cast<const c10::Error*>(&e) != nullptr || what.find("TorchScript") != std::string::npos ||
      what.find("Traceback") != std::string::npos)
    return "the model failed to run: " + torch_cause(what) +
           "; if the model folder was edited or mixes exports, re-export it with scripts/export.py";
  return cause;
}

}  // namespace vsp::app
