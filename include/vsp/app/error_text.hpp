#pragma once
#include <stdexcept>
#include <string>

namespace vsp::app {

// The line of a torch error that says what went wrong: TorchScript wraps the cause in a traceback
// whose last line is "RuntimeError: <what>". One line, at most 300 characters.
std::string torch_cause(const std::string& what);

// One line for any exception: torch_cause for torch errors, what() otherwise. For the CLI's
// error line and a batch summary's "error".
std::string error_text(const std::exception& e);

// The CLI's line for a failure that is not a vsp::Error: out of memory (with memory_advice, the
// command's flags to lower), a file system error, a model that failed to run. No library text
// beyond the one line of cause.
std::string failure_text(const std::exception& e, const std::string& memory_advice);

}  // namespace vsp::app
