#include "vsp/config/parse_json.hpp"

#include "vsp/error.hpp"

namespace vsp {
namespace {

using nlohmann::json;

// "line:column" of byte offset `byte` (nlohmann counts from 1) for messages.
std::string position(const std::string& text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// nlohmann's message without its prefix: "[json.exception.parse_error.101] parse error at line 3,
// column 14: <what>" -> "<what>".
std::string reason(const json::exception& e) {
  std::string what = e.what();
  const size_t column = what.find("column");
  const size_t at = what.find(": ", column == std::string::npos ? 0 : column);
  if (at != std::string::npos) return what.substr(at + 2);
  const size_t tag = what.find("] ");
  return tag == std::string::npos ? what : what.substr(tag + 2);
}

}  // namespace

json parse_json(const std::string& text, const std::string& name) {
  // The callback sees each array and object before it is built, with the count of those around it.
  const json::parser_callback_t limit_depth = [&name](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      throw Error(name + ": invalid JSON: nested more than " + std::to_string(kMaxJsonDepth) +
                  " levels deep (arrays and objects inside each other)");
    return true;
  };
  try {
    return json::parse(text, limit_depth);
  } catch (const json::parse_error& e) {
    throw Error(name + ":" + position(text, e.byte) + ": invalid JSON: " + reason(e));
  } catch (const json::exception& e) {  // out_of_range.406: a number too large for a double
    throw Error(name + ": invalid JSON: " + reason(e));
  }
}

}  // namespace vsp
