// Jobs files and shards: everything about a batch that is checked before a model loads.
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "vsp/config/batch.hpp"
#include "vsp/config/modes.hpp"
#include "vsp/config/parse_json.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

// Fields every job takes besides its mode's options.
const std::vector<std::string> kJobFields = {"mode", "name", "model"};

int parse_count(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 9 || text.find_first_not_of("0123456789") != std::string::npos)
    throw Error(what + " must be a non-negative integer, got \"" + text + "\"");
  return std::stoi(text);
}

json parse(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read jobs file " + path.string() + "; check the path");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_json(buffer.str(), path.string());
}

void check_name(const BatchJob& job, const std::string& file) {
  if (!values::valid_output_name(job.name))
    throw Error(file + ": " + job.where() + "\"name\" must be 1 to " + std::to_string(values::kMaxNameLength) +
                " letters, digits, '.', '_' or '-', starting with a letter or digit (it names the output files)");
}

// Defaults apply to the jobs whose mode takes them; a field no mode takes is a typo.
void check_defaults(const json& defaults, const std::string& where) {
  std::vector<std::string> known = {"mode", "model"};
  for (const auto* mode : all_mode_schemas())
    for (const auto& option : mode->options) known.push_back(option.key);
  for (const auto& [key, value] : defaults.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    throw Error(where + "unknown field \"" + key + "\"" + did_you_mean(key, known) +
                (key == "name" ? " (a name belongs to one job)" : " (the README lists the fields)"));
  }
}

json merged(const json& defaults, const json& job, const ModeSchema& mode) {
  json out = json::object();
  for (const auto& [key, value] : defaults.items()) {
    // [&key = key]: C++17 cannot capture a structured binding itself (clang refuses).
    const bool taken = key == "model" || std::any_of(mode.options.begin(), mode.options.end(),
                                                     [&key = key](const OptionSpec& o) { return o.key == key; });
    if (taken) out[key] = value;
  }
  for (const auto& [key, value] : job.items()) out[key] = value;
  out["mode"] = mode.name;
  return out;
}

}  // namespace

namespace {

// index of count, from `source` ("--shard", "SLURM_ARRAY_TASK_ID", ...) for messages.
Shard checked_shard(int index, int count, const std::string& source) {
  if (count < 1) throw Error(source + ": the shard count must be at least 1");
  if (index >= count)
    throw Error(source + ": shard index " + std::to_string(index) + " is not below the count " + std::to_string(count) +
                " (indices run from 0 to " + std::to_string(count - 1) + ")");
  return {index, count};
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) throw Error("--shard must be INDEX/COUNT, e.g. 0/4, got \"" + text + "\"");
  return checked_shard(parse_count(text.substr(0, slash), "--shard's index"),
                       parse_count(text.substr(slash + 1), "--shard's count"), "--shard " + text);
}

std::optional<Shard> shard_from_environment(const std::function<const char*(const char*)>& getenv) {
  const auto read = [&](const char* name) { return std::string(getenv(name) ? getenv(name) : ""); };
  const auto number = [&](const char* name, int fallback) {
    return read(name).empty() ? fallback : parse_count(read(name), name);
  };
  if (!read("SLURM_ARRAY_TASK_ID").empty()) {
    if (read("SLURM_ARRAY_TASK_COUNT").empty())
      throw Error("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard INDEX/COUNT");
    // --array=MIN-MAX:STEP numbers the tasks MIN, MIN+STEP, ...
    const int id = number("SLURM_ARRAY_TASK_ID", 0), first = number("SLURM_ARRAY_TASK_MIN", 0);
    const int step = std::max(number("SLURM_ARRAY_TASK_STEP", 1), 1);
    if (id < first || (id - first) % step != 0)
      throw Error("SLURM_ARRAY_TASK_ID " + std::to_string(id) + " is not in the array's range from " +
                  std::to_string(first) + " by " + std::to_string(step) + "; pass --shard INDEX/COUNT");
    return checked_shard((id - first) / step, number("SLURM_ARRAY_TASK_COUNT", 1), "SLURM_ARRAY_TASK_ID");
  }
  if (!read("JOB_COMPLETION_INDEX").empty()) {
    if (read("VSP_SHARD_COUNT").empty())
      throw Error("JOB_COMPLETION_INDEX is set but VSP_SHARD_COUNT is not; set it to the Job's completions");
    return checked_shard(number("JOB_COMPLETION_INDEX", 0), number("VSP_SHARD_COUNT", 1), "JOB_COMPLETION_INDEX");
  }
  return std::nullopt;
}

std::string BatchJob::where() const {
  const std::string shown = name.size() > 40 ? name.substr(0, 37) + "..." : name;
  return "jobs[" + std::to_string(index) + "] (\"" + shown + "\"): ";
}

BatchFile load_batch_file(const std::filesystem::path& path, const std::filesystem::path& default_model) {
  const json root = parse(path);
  const std::string file = path.string();
  if (!root.is_object()) throw Error(file + ": a jobs file is an object {\"defaults\": {...}, \"jobs\": [...]}");
  for (const auto& [key, value] : root.items()) {
    if (key == "defaults" || key == "jobs") continue;
    throw Error(file + ": unknown field \"" + key + "\"" + did_you_mean(key, {"defaults", "jobs"}) +
                " (a jobs file has \"defaults\" and \"jobs\")");
  }
  const json defaults = root.value("defaults", json::object());
  if (!defaults.is_object()) throw Error(file + ": \"defaults\" must be an object, got " + defaults.dump());
  check_defaults(defaults, file + ": defaults: ");
  if (!root.contains("jobs") || !root["jobs"].is_array() || root["jobs"].empty())
    throw Error(file + ": \"jobs\" must be a non-empty list of jobs");

  BatchFile batch{path, {}};
  const auto base = path.parent_path();
  for (size_t i = 0; i < root["jobs"].size(); ++i) {
    const json& given = root["jobs"][i];
    BatchJob job;
    job.index = i;
    char name[32];
    std::snprintf(name, sizeof name, "job-%03zu", i);
    job.name = given.is_object() && given.contains("name") && given["name"].is_string()
                   ? given["name"].get<std::string>()
                   : name;
    const std::string where = file + ": " + job.where();
    if (!given.is_object()) throw Error(where + "a job must be an object, got " + given.dump());
    const json mode_value = given.contains("mode") ? given["mode"] : defaults.value("mode", json());
    if (!mode_value.is_string()) throw Error(where + "\"mode\" must name a mode, e.g. \"generate\" or \"style\"");
    const ModeSchema& mode = find_mode_schema(mode_value, where);
    job.mode = mode.name;
    job.job = check_job_fields(merged(defaults, given, mode), mode.options, kJobFields, FieldNaming::json, where);
    if (given.contains("name") && !given["name"].is_string()) throw Error(where + "\"name\" must be a string");
    check_name(job, file);
    if (job.job.contains("model")) {
      if (!job.job["model"].is_string()) throw Error(where + "\"model\" must be the path of an exported model folder");
      const std::filesystem::path model = job.job["model"].get<std::string>();
      job.model = model.is_absolute() ? model : base / model;
    } else {
      job.model = default_model;
    }
    batch.jobs.push_back(std::move(job));
  }
  return batch;
}

}  // namespace vsp::app
