#include "vsp/config/job_schema.hpp"

#include <algorithm>
#include <cctype>
#include <random>
#include <sstream>

#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

std::string expected(const OptionSpec& option) {
  switch (option.kind) {
    case ValueKind::text: {
      if (option.choices.empty()) return "a string";
      return "one of " + join(option.choices, " | ");
    }
    case ValueKind::optional_text:
      return "a string or null";
    case ValueKind::integer:
      return option.maximum == INT32_MAX
                 ? "an integer >= " + std::to_string(option.minimum)
                 : "an integer from " + std::to_string(option.minimum) + " to " + std::to_string(option.maximum);
    case ValueKind::seed:
      return "an integer from 0 to " + std::to_string(values::kMaxSeed) +
             (option.minimum < 0 ? " (-1: a random one)" : "");
    case ValueKind::number:
      return option.maximum == INT32_MAX
                 ? "a finite number >= " + std::to_string(option.minimum)
                 : "a number from " + std::to_string(option.minimum) + " to " + std::to_string(option.maximum);
    case ValueKind::flag:
      return "true or false";
    case ValueKind::text_list:
      return "a string or a list of strings";
    case ValueKind::seed_list:
      return "a seed (0 to " + std::to_string(values::kMaxSeed) + ") or a list of them";
  }
  return "";
}

bool is_seed(const json& value) { return values::integer_in(value, 0, values::kMaxSeed).has_value(); }

// The value in its normal form, or null when it does not fit the option.
json normalised(const OptionSpec& option, const json& value) {
  const auto list_of = [&](auto fits) {
    const json list = value.is_array() ? value : json::array({value});
    return std::all_of(list.begin(), list.end(), fits) ? list : json();
  };
  switch (option.kind) {
    case ValueKind::text: {
      if (!value.is_string()) return {};
      const std::string text = option.canonical ? option.canonical(value.get<std::string>()) : value.get<std::string>();
      if (!option.choices.empty() &&
          std::find(option.choices.begin(), option.choices.end(), text) == option.choices.end())
        return {};
      return text;
    }
    case ValueKind::optional_text:
      return value.is_string() || value.is_null() ? json(value) : json();
    case ValueKind::integer: {
      const auto v = values::integer_in(value, option.minimum, option.maximum);
      return v ? json(*v) : json();
    }
    case ValueKind::seed:
      // A1111's convention: -1 draws a seed, which the job (and so the image's metadata) records.
      if (option.minimum < 0 && value.is_number_integer() && !value.is_number_unsigned() && value.get<int64_t>() == -1)
        return std::random_device()();  // (json compares 2^64 - 1 equal to -1)
      return is_seed(value) ? value : json();
    case ValueKind::number: {
      const auto v = values::number_in(value, static_cast<double>(option.minimum), static_cast<double>(option.maximum));
      return v ? value : json();
    }
    case ValueKind::flag:
      return value.is_boolean() ? value : json();
    case ValueKind::text_list:
      return list_of([](const json& v) { return v.is_string(); });
    case ValueKind::seed_list:
      return list_of(is_seed);
  }
  return {};
}

// A flag's text as the JSON value check_job_fields expects: numbers are read in decimal only
// (CLI11 would take "010" as octal 8 and "0x10" as 16); text that is not a number stays text, so
// the field check names the flag and what it must be.
json flag_value(const OptionSpec& option, const std::string& text) {
  if (option.kind == ValueKind::integer || option.kind == ValueKind::seed || option.kind == ValueKind::seed_list) {
    if (const auto v = values::parse_decimal_integer(text, INT64_MIN, INT64_MAX)) return *v;
    return text;
  }
  if (option.kind == ValueKind::number) {
    if (const auto v = values::parse_decimal_number(text)) return *v;
    return text;
  }
  return text;
}

}  // namespace

std::string shown_default(bool value) { return value ? "on" : "off"; }
std::string shown_default(int value) { return std::to_string(value); }
std::string shown_default(double value) { return values::shown(value); }
std::string shown_default(const char* value) { return value; }

OptionSpec shown_as(OptionSpec option, std::string placeholder) {
  option.placeholder = std::move(placeholder);
  return option;
}

namespace {

// The help's name for an option's value: INT, FLOAT, TEXT, the choices, or the option's own.
std::string placeholder(const OptionSpec& option) {
  if (!option.placeholder.empty()) return option.placeholder;
  switch (option.kind) {
    case ValueKind::integer:
    case ValueKind::seed:
    case ValueKind::seed_list:
      return "INT";
    case ValueKind::number:
      return "FLOAT";
    case ValueKind::text:
      return option.choices.empty() ? "TEXT" : join(option.choices, "|");
    default:
      return "TEXT";
  }
}

}  // namespace

std::string help_text(const OptionSpec& option) {
  return option.shown_default.empty() ? option.help : option.help + " (default " + option.shown_default + ")";
}

void add_job_options(CLI::App& app, const std::vector<OptionSpec>& options, json& job) {
  for (const auto& option : options) {
    const std::string key = option.key;
    const std::string help = help_text(option);
    if (option.kind == ValueKind::flag) {
      // A negated name ("!--no-color-calibration") counts below zero.
      app.add_flag_function(
          option.flags, [&job, key](int64_t count) { job[key] = count > 0; }, help);
      continue;
    }
    // Every value is taken as text and converted here, so CLI11 never reads a number its own way.
    CLI::Option* added = nullptr;
    if (option.kind == ValueKind::text_list || option.kind == ValueKind::seed_list) {
      added = app.add_option_function<std::vector<std::string>>(
          option.flags,
          [&job, option](const std::vector<std::string>& given) {
            json list = json::array();
            for (const auto& text : given) list.push_back(flag_value(option, text));
            job[option.key] = list;
          },
          help);
    } else {
      added = app.add_option_function<std::string>(
          option.flags, [&job, option](const std::string& text) { job[option.key] = flag_value(option, text); }, help);
      added->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: the last one wins
    }
    if (option.delimiter) added->delimiter(option.delimiter);
    added->type_name(placeholder(option));
  }
}

CLI::Option* add_integer_flag(CLI::App& app, const std::string& flags, int64_t& out, int64_t minimum, int64_t maximum,
                              const std::string& help) {
  return app
      .add_option_function<std::string>(
          flags,
          [&out, flags, minimum, maximum](const std::string& text) {
            const auto v = values::parse_decimal_integer(text, minimum, maximum);
            if (!v)
              throw CLI::ValidationError(flags, "must be an integer from " + std::to_string(minimum) + " to " +
                                                    std::to_string(maximum) + ", got \"" + text + "\"");
            out = *v;
          },
          help)
      ->type_name("INT")
      ->default_str(std::to_string(out));
}

CLI::Option* add_number_flag(CLI::App& app, const std::string& flags, double& out, double minimum, double maximum,
                             const std::string& help) {
  std::ostringstream fallback;
  fallback << out;
  return app
      .add_option_function<std::string>(
          flags,
          [&out, flags, minimum, maximum](const std::string& text) {
            const auto v = values::parse_decimal_number(text);
            if (!v || *v < minimum || *v > maximum) {
              std::ostringstream range;
              range << "must be a number from " << minimum << " to " << maximum << ", got \"" << text << "\"";
              throw CLI::ValidationError(flags, range.str());
            }
            out = *v;
          },
          help)
      ->type_name("FLOAT")
      ->default_str(fallback.str());
}

namespace {

// The option's flags as CLI11 names them: "-p,--prompt" -> {"-p", "--prompt"}; a negation keeps its "!".
std::vector<std::string> flag_names(const OptionSpec& option) {
  std::vector<std::string> names;
  std::stringstream list(option.flags);
  for (std::string name; std::getline(list, name, ',');) names.push_back(name);
  return names;
}

}  // namespace

std::string field_name(const OptionSpec& option, FieldNaming naming) {
  if (naming == FieldNaming::json) return "\"" + option.key + "\"";
  for (const auto& name : flag_names(option))
    if (name.rfind("--", 0) == 0) return name;  // the long name, as the user types it
  return flag_names(option).front();
}

std::string in_jobs_terms(std::string message, const std::vector<OptionSpec>& options) {
  // A flag is replaced where it stands as a whole word: "--seed" but not "--seeds".
  const auto replace_word = [&message](const std::string& word, const std::string& by) {
    const auto part_of_name = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    };
    for (size_t at = message.find(word); at != std::string::npos; at = message.find(word, at)) {
      const size_t end = at + word.size();
      if ((at > 0 && part_of_name(message[at - 1])) || (end < message.size() && part_of_name(message[end]))) {
        at = end;
        continue;
      }
      message.replace(at, word.size(), by);
      at += by.size();
    }
  };
  for (const auto& option : options) {
    for (const auto& name : flag_names(option)) {
      if (name.rfind("!--", 0) == 0)
        replace_word(name.substr(1), "\"" + option.key + "\": false");
      else if (name.rfind("--", 0) == 0)
        replace_word(name, "\"" + option.key + "\"");
    }
  }
  return message;
}

namespace {

std::string shown(const json& value) {
  // replace: a value that is not UTF-8 is still shown, never a second exception.
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

}  // namespace

namespace {

json check_fields(const json& job, const std::vector<OptionSpec>& options, const std::vector<std::string>& ignored,
                  FieldNaming naming, const std::string& where);

}  // namespace

json check_job_fields(const json& job, const std::vector<OptionSpec>& options, const std::vector<std::string>& ignored,
                      FieldNaming naming, const std::string& where) {
  if (naming == FieldNaming::json) return check_fields(job, options, ignored, naming, where);
  try {
    return check_fields(job, options, ignored, naming, where);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

namespace {

json check_fields(const json& job, const std::vector<OptionSpec>& options, const std::vector<std::string>& ignored,
                  FieldNaming naming, const std::string& where) {
  if (!job.is_object()) throw Error(where + "a job must be a JSON object, got " + shown(job));
  std::vector<std::string> keys = ignored;
  for (const auto& option : options) keys.push_back(option.key);
  json checked = json::object();
  for (auto item = job.begin(); item != job.end(); ++item) {
    const std::string& key = item.key();
    const json& value = item.value();
    if (!values::valid_utf8(key)) throw Error(where + "a field name is not valid UTF-8; check the file's encoding");
    const auto option =
        std::find_if(options.begin(), options.end(), [&key](const OptionSpec& o) { return o.key == key; });
    const std::string name = option == options.end() ? "\"" + key + "\"" : field_name(*option, naming);
    if (values::find_non_utf8(value))
      throw Error(where + name + " is not valid UTF-8 text; save the file as UTF-8 or use UTF-8 in the shell");
    if (std::find(ignored.begin(), ignored.end(), key) != ignored.end()) {
      checked[key] = value;
      continue;
    }
    if (option == options.end()) {
      throw Error(where + "unknown field \"" + key + "\"" + did_you_mean(key, keys) + " (the README lists the fields)");
    }
    if (!option->choices.empty() && value.is_string()) {
      const auto given = value.get<std::string>();
      const auto known = option->canonical ? option->canonical(given) : given;
      if (std::find(option->choices.begin(), option->choices.end(), known) == option->choices.end()) {
        throw Error(where + name + ": unknown value \"" + given + "\"" + did_you_mean(given, option->choices) + " (" +
                    expected(*option) + ")");
      }
    }
    json value_checked = normalised(*option, value);
    if (value_checked.is_null() && !(option->kind == ValueKind::optional_text && value.is_null()))
      throw Error(where + name + " must be " + expected(*option) + ", got " + shown(value));
    // A1111's LoRA tag is read from the target prompts when a LoRA folder says where its files
    // are; anywhere else it would be drawn as words: refuse it.
    const bool reads_tags =
        std::any_of(options.begin(), options.end(), [](const OptionSpec& o) { return o.key == "lora_dir"; });
    const bool tags_read = key == "prompt" && job.contains("lora_dir");
    for (const auto& text : value_checked.is_array() ? value_checked : json::array({value_checked}))
      if (!tags_read && text.is_string() && text.get_ref<const std::string&>().find("<lora:") != std::string::npos)
        throw Error(where + name +
                    (!reads_tags       ? " holds an A1111 LoRA tag (<lora:...>), which vsp reads only in generate and "
                                         "style prompts; remove it"
                     : key == "prompt" ? " holds an A1111 LoRA tag (<lora:NAME:W>); pass --lora-dir DIR, the folder "
                                         "of NAME.safetensors, or --lora FILE:WEIGHT instead"
                                       : " holds an A1111 LoRA tag (<lora:...>), which vsp reads only in the "
                                         "prompt; move it there (with --lora-dir) or pass --lora FILE:WEIGHT"));

    checked[key] = value_checked;
  }
  return checked;
}

}  // namespace

}  // namespace vsp::app
