#pragma once
// Reading numbers and text exactly, the same way for flags, jobs files, style files and manifests:
// decimal only (no octal "010", no hex "0x10"), no silent rounding, wrapping or clamping, finite
// numbers only, UTF-8 text only.
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace vsp::values {

// A number for a message or the help: 0.75, 1.5, 100 (fixed notation, trailing zeros dropped).
inline std::string shown(double value) {
  std::string text = std::to_string(value);
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

// Seeds feed torch's CPU generator, which uses only their low 32 bits (as diffusers and A1111 do):
// a larger seed would silently give another seed's noise.
constexpr int64_t kMaxSeed = 4294967295;

// A JSON integer within [minimum, maximum], or nothing: 1.5, -1 for a seed, 2^64 and "3" are not.
inline std::optional<int64_t> integer_in(const nlohmann::json& value, int64_t minimum, int64_t maximum) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX) || static_cast<int64_t>(v) < minimum || static_cast<int64_t>(v) > maximum)
      return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (!value.is_number_integer()) return std::nullopt;
  const auto v = value.get<int64_t>();
  if (v < minimum || v > maximum) return std::nullopt;
  return v;
}

// A finite JSON number (integer or not) within [minimum, maximum], or nothing.
inline std::optional<double> number_in(const nlohmann::json& value, double minimum, double maximum) {
  if (!value.is_number()) return std::nullopt;
  const double v = value.get<double>();
  if (!std::isfinite(v) || v < minimum || v > maximum) return std::nullopt;
  return v;
}

// "42", "0042" (decimal 42), "-3": an integer written in decimal digits within the range, else nothing.
inline std::optional<int64_t> parse_decimal_integer(const std::string& text, int64_t minimum, int64_t maximum) {
  size_t at = text.size() > 0 && (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (at == text.size() || text.size() > 40) return std::nullopt;
  for (size_t i = at; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  while (at + 1 < text.size() && text[at] == '0') ++at;  // leading zeros are decimal, not octal
  if (text.size() - at > 19) return std::nullopt;        // beyond int64 whatever the digits
  errno = 0;
  const long long v = std::strtoll((std::string(text[0] == '-' ? "-" : "") + text.substr(at)).c_str(), nullptr, 10);
  if (errno == ERANGE || v < minimum || v > maximum) return std::nullopt;
  return static_cast<int64_t>(v);
}

// "7", "7.5", "-0.5", "1e-3": a finite decimal number, else nothing ("nan", "inf", "0x10", "1e400").
inline std::optional<double> parse_decimal_number(const std::string& text) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t from = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - from;
  };
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  size_t mantissa = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return std::nullopt;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    if (digits() == 0) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  const double v = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// True when text is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
inline bool valid_utf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    size_t length;
    uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4, code = c & 0x07;
    } else {
      return false;
    }
    if (i + length > n) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      code = (code << 6) | (s[i + k] & 0x3F);
    }
    static const uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < smallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

// A name that becomes a file or folder name: letters, digits, '.', '_' or '-', starting with a
// letter or digit (so never "..", a hidden file or a path), and short enough for any file system
// once vsp adds its suffixes.
constexpr size_t kMaxNameLength = 200;
inline bool valid_output_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (const unsigned char c : name)
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

// The first string inside value (recursively) that is not UTF-8, as a JSON pointer, or nothing.
inline std::optional<std::string> find_non_utf8(const nlohmann::json& value, const std::string& at = "") {
  if (value.is_string()) {
    if (!valid_utf8(value.get_ref<const std::string&>())) return at;
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!valid_utf8(it.key())) return at + "/<key>";
      if (auto found = find_non_utf8(it.value(), at + "/" + it.key())) return found;
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      if (auto found = find_non_utf8(value[i], at + "/" + std::to_string(i))) return found;
  }
  return std::nullopt;
}

}  // namespace vsp::values
