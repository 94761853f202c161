#include "vsp/app/job_schema.hpp"

#include <algorithm>
#include <limits>

#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

std::string expected(const OptionSpec& option) {
  switch (option.kind) {
    case ValueKind::text: {
      if (option.choices.empty()) return "a string";
      std::string list;
      for (const auto& c : option.choices) list += (list.empty() ? "" : " | ") + c;
      return "one of " + list;
    }
    case ValueKind::optional_text: return "a string or null";
    case ValueKind::integer:
      return "an integer >= " + std::to_string(option.minimum);
    case ValueKind::seed: return "a non-negative integer";
    case ValueKind::number: return "a number";
    case ValueKind::flag: return "true or false";
    case ValueKind::text_list: return "a string or a list of strings";
    case ValueKind::seed_list: return "a non-negative integer or a list of them";
  }
  return "";
}

bool is_seed(const json& value) { return value.is_number_unsigned() || (value.is_number_integer() && value >= 0); }

// The value in its normal form, or null when it does not fit the option.
json normalised(const OptionSpec& option, const json& value) {
  const auto list_of = [&](auto fits) {
    const json list = value.is_array() ? value : json::array({value});
    return std::all_of(list.begin(), list.end(), fits) ? list : json();
  };
  switch (option.kind) {
    case ValueKind::text:
      if (!value.is_string()) return {};
      if (!option.choices.empty() &&
          std::find(option.choices.begin(), option.choices.end(), value.get<std::string>()) == option.choices.end())
        return {};
      return value;
    case ValueKind::optional_text: return value.is_string() || value.is_null() ? json(value) : json();
    case ValueKind::integer:
      return value.is_number_integer() && value >= option.minimum && value <= std::numeric_limits<int32_t>::max()
                 ? value
                 : json();
    case ValueKind::seed: return is_seed(value) ? value : json();
    case ValueKind::number: return value.is_number() ? value : json();
    case ValueKind::flag: return value.is_boolean() ? value : json();
    case ValueKind::text_list: return list_of([](const json& v) { return v.is_string(); });
    case ValueKind::seed_list: return list_of(is_seed);
  }
  return {};
}

}  // namespace

void add_job_options(CLI::App& app, const std::vector<OptionSpec>& options, json& job) {
  for (const auto& option : options) {
    const std::string key = option.key;
    CLI::Option* added = nullptr;
    switch (option.kind) {
      case ValueKind::text:
      case ValueKind::optional_text:
        added = app.add_option_function<std::string>(option.flags, [&job, key](const std::string& v) { job[key] = v; },
                                                     option.help);
        break;
      case ValueKind::integer:
        added = app.add_option_function<int64_t>(option.flags, [&job, key](int64_t v) { job[key] = v; }, option.help);
        break;
      case ValueKind::seed:
        added = app.add_option_function<uint64_t>(option.flags, [&job, key](uint64_t v) { job[key] = v; }, option.help);
        break;
      case ValueKind::number:
        added = app.add_option_function<double>(option.flags, [&job, key](double v) { job[key] = v; }, option.help);
        break;
      case ValueKind::flag:
        // A negated name ("!--no-color-calibration") counts below zero.
        app.add_flag_function(option.flags, [&job, key](int64_t count) { job[key] = count > 0; }, option.help);
        break;
      case ValueKind::text_list:
        added = app.add_option_function<std::vector<std::string>>(
            option.flags, [&job, key](const std::vector<std::string>& v) { job[key] = v; }, option.help);
        break;
      case ValueKind::seed_list:
        added = app.add_option_function<std::vector<uint64_t>>(
            option.flags, [&job, key](const std::vector<uint64_t>& v) { job[key] = v; }, option.help);
        break;
    }
    if (added && option.delimiter) added->delimiter(option.delimiter);
    // CLI11 would wrap "-1" round to a huge unsigned seed; a jobs file rejects it, so must the flag.
    if (added && (option.kind == ValueKind::seed || option.kind == ValueKind::seed_list))
      added->check(CLI::Validator(
          [](std::string& value) { return value.rfind('-', 0) == 0 ? "a seed must be a non-negative integer" : ""; },
          "SEED"));
    if (added && !option.choices.empty()) added->description(option.help + ": " + expected(option));
  }
}

std::string field_name(const OptionSpec& option, FieldNaming naming) {
  if (naming == FieldNaming::json) return "\"" + option.key + "\"";
  std::string flag = option.key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return "--" + flag;
}

json check_job_fields(const json& job, const std::vector<OptionSpec>& options, const std::vector<std::string>& ignored,
                      FieldNaming naming, const std::string& where) {
  if (!job.is_object()) throw Error(where + "a job must be a JSON object, got " + job.dump());
  std::vector<std::string> keys = ignored;
  for (const auto& option : options) keys.push_back(option.key);
  json checked = json::object();
  for (const auto& [key, value] : job.items()) {
    if (std::find(ignored.begin(), ignored.end(), key) != ignored.end()) {
      checked[key] = value;
      continue;
    }
    // [&key = key]: C++17 cannot capture a structured binding itself (clang refuses).
    const auto option =
        std::find_if(options.begin(), options.end(), [&key = key](const OptionSpec& o) { return o.key == key; });
    if (option == options.end()) {
      const auto near = closest(key, keys, 1);
      throw Error(where + "unknown field \"" + key + "\"" +
                  (near.empty() ? "" : "; did you mean \"" + near[0] + "\"?") + " (the README lists the fields)");
    }
    if (!option->choices.empty() && value.is_string()) {
      const auto given = value.get<std::string>();
      if (std::find(option->choices.begin(), option->choices.end(), given) == option->choices.end()) {
        const auto near = closest(given, option->choices, 1);
        throw Error(where + field_name(*option, naming) + ": unknown value \"" + given + "\"" +
                    (near.empty() ? "" : "; did you mean \"" + near[0] + "\"?") + " (" + expected(*option) + ")");
      }
    }
    if (option->kind == ValueKind::integer && value.is_number_integer() && value > std::numeric_limits<int32_t>::max())
      throw Error(where + field_name(*option, naming) + " must be at most " +
                  std::to_string(std::numeric_limits<int32_t>::max()) + ", got " + value.dump());
    json value_checked = normalised(*option, value);
    if (value_checked.is_null() && !(option->kind == ValueKind::optional_text && value.is_null()))
      throw Error(where + field_name(*option, naming) + " must be " + expected(*option) + ", got " + value.dump());
    checked[key] = value_checked;
  }
  return checked;
}

}  // namespace vsp::app
