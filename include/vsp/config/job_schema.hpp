#pragma once
#include <CLI/CLI.hpp>
#include <climits>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vsp::app {

// One schema for the command line and for batch jobs: every option of a mode is a JSON field
// ("swap_steps") and a flag ("--swap-steps"). The command line fills a job object from its flags;
// a jobs file gives the object directly; both are checked by check_job_fields.
// Numbers are read exactly: decimal only, no rounding, wrapping or clamping (vsp/values.hpp).
enum class ValueKind {
  text,           // "a string" (UTF-8)
  optional_text,  // a string or null
  integer,        // an integer from minimum to maximum
  seed,           // an integer from 0 to 2^32-1 (torch's CPU generator uses 32 bits)
  number,         // a finite number from minimum to maximum
  flag,           // true or false
  text_list,      // a list of strings (a single string is a list of one)
  seed_list,      // a list of seeds (a single one is a list of one)
};

struct OptionSpec {
  std::string key;    // JSON field
  std::string flags;  // CLI11 names, e.g. "-p,--prompt" or "--color-calibration,!--no-color-calibration"
  ValueKind kind;
  std::string help;
  int64_t minimum = 0;               // integer, number: the smallest valid value
  char delimiter = 0;                // lists: a flag value is also split on this
  std::vector<std::string> choices;  // text: the valid values (empty: any)
  int64_t maximum = INT32_MAX;       // integer, number: the largest valid value
  std::string shown_default;         // the help's "(default X)" (with_default); empty: none, or it depends
  // text with choices: maps other tools' spellings to a choice (e.g. sampling::sampler_from_alias)
  std::string (*canonical)(const std::string&) = nullptr;
  std::string placeholder;  // the help's name for the value (FILE, DIR); empty: from the kind
};

// An option whose value the help shows as `placeholder` ("FILE", "DIR", "FILE|DIR", "NAME").
OptionSpec shown_as(OptionSpec option, std::string placeholder);

// A default as the help shows it: flags on/off, numbers as the shortest text that reads back.
std::string shown_default(bool value);
std::string shown_default(int value);
std::string shown_default(double value);
std::string shown_default(const char* value);
// The option, its help ending in "(default X)" with X from vsp/config/defaults.hpp.
template <typename T>
OptionSpec with_default(OptionSpec option, T value) {
  option.shown_default = shown_default(value);
  return option;
}
// The help text the flag shows: the option's help and its default.
std::string help_text(const OptionSpec& option);

// Adds a flag per option; each flag given on the command line is stored in job[key].
void add_job_options(CLI::App& app, const std::vector<OptionSpec>& options, nlohmann::json& job);

// A numeric flag outside the job schema, read exactly (decimal only, in range, finite); a bad value
// is a usage error naming the flag.
CLI::Option* add_integer_flag(CLI::App& app, const std::string& flags, int64_t& out, int64_t minimum, int64_t maximum,
                              const std::string& help);
CLI::Option* add_number_flag(CLI::App& app, const std::string& flags, double& out, double minimum, double maximum,
                             const std::string& help);

// How field errors name a field: "--swap-steps" for the command line, "\"swap_steps\"" in a file.
enum class FieldNaming { flag, json };
std::string field_name(const OptionSpec& option, FieldNaming naming);
// A message written for the command line, as a jobs file's reader needs it: each of the options'
// flags ("--save-null-text", "--no-shared-adain") becomes its field ("\"save_null_text\"",
// "\"shared_adain\": false"). The planners word their errors in flags, for both.
std::string in_jobs_terms(std::string message, const std::vector<OptionSpec>& options);

// Checks every field of job against options, after removing `ignored` keys (e.g. "mode").
// Returns the job with lists normalised (a single value becomes a list). Throws vsp::Error:
// "<where>unknown field "sed"; did you mean "seed"?" or "<where>"steps" must be an integer >= 1, got "ten"".
nlohmann::json check_job_fields(const nlohmann::json& job, const std::vector<OptionSpec>& options,
                                const std::vector<std::string>& ignored, FieldNaming naming, const std::string& where);

}  // namespace vsp::app
