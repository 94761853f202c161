#include "vsp/config/json_fields.hpp"

#include <algorithm>
#include <utility>

#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp {

JsonFields::JsonFields(const nlohmann::json& object, std::string where, std::string fix, std::string prefix)
    : object_(object), where_(std::move(where)), fix_(std::move(fix)), prefix_(std::move(prefix)) {}

JsonFields JsonFields::nested(const char* key) const {
  return JsonFields(object(key), where_, fix_, prefix_ + key + ".");
}

bool JsonFields::has(const char* key) const { return object_.is_object() && object_.contains(key); }

const nlohmann::json& JsonFields::get(const char* key) const {
  if (!has(key)) fail_field(key, "is missing");
  return object_.at(key);
}

const nlohmann::json& JsonFields::object(const char* key) const {
  if (!get(key).is_object()) wrong(key, "an object");
  return object_.at(key);
}

const nlohmann::json& JsonFields::list(const char* key) const {
  if (!get(key).is_array()) wrong(key, "a list");
  return object_.at(key);
}

int64_t JsonFields::integer(const char* key, int64_t minimum, int64_t maximum) const {
  const auto value = values::integer_in(get(key), minimum, maximum);
  if (!value) wrong(key, "an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum));
  return *value;
}

int64_t JsonFields::integer_or(const char* key, int64_t fallback, int64_t minimum, int64_t maximum) const {
  return has(key) ? integer(key, minimum, maximum) : fallback;
}

std::vector<int64_t> JsonFields::integers_or(const char* key, std::vector<int64_t> fallback, int64_t minimum,
                                             int64_t maximum) const {
  if (!has(key)) return fallback;
  const std::string what = "a list of integers from " + std::to_string(minimum) + " to " + std::to_string(maximum);
  if (!object_.at(key).is_array()) wrong(key, what);
  std::vector<int64_t> read;
  for (const auto& item : object_.at(key)) {
    const auto value = values::integer_in(item, minimum, maximum);
    if (!value) wrong(key, what);
    read.push_back(*value);
  }
  return read;
}

double JsonFields::number(const char* key, double minimum, double maximum) const {
  const auto value = values::number_in(get(key), minimum, maximum);
  if (!value) wrong(key, "a number from " + values::shown(minimum) + " to " + values::shown(maximum));
  return *value;
}

double JsonFields::number_or(const char* key, double fallback, double minimum, double maximum) const {
  return has(key) ? number(key, minimum, maximum) : fallback;
}

std::string JsonFields::text(const char* key) const {
  const auto& value = get(key);
  if (!value.is_string() || !values::valid_utf8(value.get_ref<const std::string&>())) wrong(key, "a string");
  return value.get<std::string>();
}

std::string JsonFields::text_or(const char* key, std::string fallback) const {
  return has(key) ? text(key) : std::move(fallback);
}

std::vector<std::string> JsonFields::texts(const char* key) const {
  if (!get(key).is_array()) wrong(key, "a list of strings");
  std::vector<std::string> read;
  for (const auto& item : object_.at(key)) {
    if (!item.is_string() || !values::valid_utf8(item.get_ref<const std::string&>())) wrong(key, "a list of strings");
    read.push_back(item.get<std::string>());
  }
  return read;
}

std::vector<std::string> JsonFields::texts_or(const char* key, std::vector<std::string> fallback) const {
  return has(key) ? texts(key) : std::move(fallback);
}

std::string JsonFields::choice_or(const char* key, std::string fallback,
                                  const std::vector<std::string>& choices) const {
  if (!has(key)) return fallback;
  auto value = text(key);
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) wrong(key, "one of " + join(choices));
  return value;
}

bool JsonFields::flag(const char* key) const {
  if (!get(key).is_boolean()) wrong(key, "true or false");
  return object_.at(key).get<bool>();
}

bool JsonFields::flag_or(const char* key, bool fallback) const { return has(key) ? flag(key) : fallback; }

void JsonFields::fail_field(const std::string& key, const std::string& what) const {
  fail("field '" + prefix_ + key + "' " + what);
}

void JsonFields::fail(const std::string& what) const { throw Error(where_ + ": " + what + fix_); }

void JsonFields::wrong(const char* key, const std::string& what) const {
  std::string got = object_.at(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (got.size() > 60) got = got.substr(0, 57) + "...";
  fail_field(key, "must be " + what + ", got " + got);
}

}  // namespace vsp
