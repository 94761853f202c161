#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace vsp {

// The deepest nesting of arrays and objects a vsp JSON file may have (jobs files, styles and
// manifests need four or five levels). Deeper text is refused while it is parsed: nlohmann's
// copy, compare and dump recurse once per level and overflow the stack at ~10^5 levels.
constexpr int kMaxJsonDepth = 64;

// Parses JSON text read from `name` (a file, for messages). Throws vsp::Error
// "<name>:<line>:<column>: invalid JSON: <what>", and "<name>: invalid JSON: ..." for a number out
// of range (1e400) or nesting deeper than kMaxJsonDepth.
nlohmann::json parse_json(const std::string& text, const std::string& name);

}  // namespace vsp
