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

}  // namespace vsp::app
