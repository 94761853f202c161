#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vsp {

// vsp's one typed reader of JSON objects: the manifest, style files and scheduler configs read
// their fields through it, so every message has one shape:
//   "<where>: field '<prefix><key>' must be <what>, got <value><fix>"
// Numbers are read exactly and within range (vsp/values.hpp): 2.5 or 2^32 + 1 steps are errors.
// A reader without a fallback says a missing field is missing; the `_or` readers return the
// fallback when the field is absent.
class JsonFields {
 public:
  // `where` names the file (or "scheduler config"); `fix` ends every message ("; re-export ...").
  JsonFields(const nlohmann::json& object, std::string where, std::string fix = "", std::string prefix = "");

  // The fields of the object at `key`, with "key." in their names.
  JsonFields nested(const char* key) const;

  bool has(const char* key) const;
  const nlohmann::json& get(const char* key) const;
  const nlohmann::json& object(const char* key) const;
  const nlohmann::json& list(const char* key) const;

  int64_t integer(const char* key, int64_t minimum, int64_t maximum) const;
  int64_t integer_or(const char* key, int64_t fallback, int64_t minimum, int64_t maximum) const;
  std::vector<int64_t> integers_or(const char* key, std::vector<int64_t> fallback, int64_t minimum,
                                   int64_t maximum) const;
  double number(const char* key, double minimum, double maximum) const;
  double number_or(const char* key, double fallback, double minimum, double maximum) const;
  std::string text(const char* key) const;
  std::string text_or(const char* key, std::string fallback) const;
  std::vector<std::string> texts(const char* key) const;
  std::vector<std::string> texts_or(const char* key, std::vector<std::string> fallback) const;
  std::string choice_or(const char* key, std::string fallback, const std::vector<std::string>& choices) const;
  bool flag(const char* key) const;
  bool flag_or(const char* key, bool fallback) const;

  // "<where>: field '<prefix><key>' <what><fix>" and "<where>: <what><fix>".
  [[noreturn]] void fail_field(const std::string& key, const std::string& what) const;
  [[noreturn]] void fail(const std::string& what) const;
  // "field '<key>' must be <what>, got <the value, shortened>".
  [[noreturn]] void wrong(const char* key, const std::string& what) const;

 private:
  const nlohmann::json& object_;
  std::string where_, fix_, prefix_;
};

}  // namespace vsp
