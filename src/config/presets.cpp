#include "vsp/config/presets.hpp"

#include <fstream>
#include <iterator>

#include "vsp/config/parse_json.hpp"
#include "vsp/config/style_templates.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"

namespace vsp::app {

namespace {

using nlohmann::json;

json load_presets() {
  const auto file = shipped_config("presets.json");
  std::ifstream in(file);
  if (!in) throw Error("cannot read the preset file " + file.string() + "; it ships as configs/presets.json");
  auto presets = parse_json(std::string(std::istreambuf_iterator<char>(in), {}), file.string());
  if (!presets.is_object()) throw Error(file.string() + " must be an object of name -> {field: value, ...}");
  for (const auto& [name, fields] : presets.items())
    if (!fields.is_object() || !fields.contains("description") || !fields["description"].is_string())
      throw Error(file.string() + ": preset '" + name + "' must be an object with a \"description\"");
  return presets;
}

}  // namespace

json with_preset(const json& job, const std::vector<OptionSpec>& options) {
  if (!job.contains("preset")) return job;
  const auto name = job["preset"].get<std::string>();
  const auto presets = load_presets();
  if (!presets.contains(name)) {
    std::vector<std::string> names;
    for (const auto& [known, fields] : presets.items()) names.push_back(known);
    throw UsageError("unknown --preset '" + name + "'" + did_you_mean(name, names, "'") + " (presets: " + join(names) +
                     ")");
  }
  const auto fields = check_job_fields(presets[name], options, {"description"}, FieldNaming::json,
                                       shipped_config("presets.json").string() + ": preset '" + name + "': ");
  auto merged = job;
  for (const auto& [key, value] : fields.items())
    if (key != "description" && !merged.contains(key)) merged[key] = value;
  return merged;
}

}  // namespace vsp::app
