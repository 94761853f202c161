#include "vsp/app/style_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "vsp/config/parse_json.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

// Reads a style file field with messages that name the file, the field and the expected type.
class FieldReader {
 public:
  FieldReader(const std::filesystem::path& file, const json& object) : file_(file), object_(object) {}

  template <typename T>
  void read(const char* key, T& out, const char* expected, bool required = false) const {
    if (!object_.contains(key)) {
      if (required) fail(std::string("missing field '") + key + "' (" + expected + ")");
      return;
    }
    try {
      out = object_.at(key).get<T>();
    } catch (const json::exception&) {
      fail(std::string("field '") + key + "' must be " + expected + ", got " + object_.at(key).dump());
    }
  }
  [[noreturn]] void fail(const std::string& what) const { throw Error(file_.string() + ": " + what); }

 private:
  const std::filesystem::path& file_;
  const json& object_;
};

const std::set<std::string> kFields = {"name", "description", "template", "reference_object", "reference_seed",
                                       "negative", "zero_target_negatives", "targets", "seeds", "layers",
                                       "swap_steps", "steps", "cfg", "sampler", "warmup"};

}  // namespace

std::string StyleConfig::prompt_for(const std::string& object) const {
  std::string prompt = style_template;
  for (size_t at; (at = prompt.find("{object}")) != std::string::npos;) prompt.replace(at, 8, object);
  return prompt;
}

StyleConfig StyleConfig::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error("cannot read style file " + file.string());
  const json object = parse_json(std::string(std::istreambuf_iterator<char>(in), {}), file.string());
  StyleConfig s;
  s.file = file;
  FieldReader fields(file, object);
  if (!object.is_object()) fields.fail("a style must be a JSON object");
  for (const auto& [key, value] : object.items()) {
    if (kFields.count(key)) continue;
    const auto near = closest(key, {kFields.begin(), kFields.end()}, 1);
    fields.fail("unknown field '" + key + "'" + (near.empty() ? "" : "; did you mean '" + near[0] + "'?"));
  }
  fields.read("name", s.name, "a string", true);
  fields.read("description", s.description, "a string", true);
  fields.read("template", s.style_template, "a string containing {object}", true);
  fields.read("reference_object", s.reference_object, "a string", true);
  fields.read("reference_seed", s.reference_seed, "a non-negative integer");
  if (object.contains("negative") && !object["negative"].is_null()) {
    std::string negative;
    fields.read("negative", negative, "a string or null");
    s.negative = negative;
  }
  fields.read("zero_target_negatives", s.zero_target_negatives, "true or false");
  fields.read("targets", s.targets, "a list of strings", true);
  fields.read("seeds", s.seeds, "a list of non-negative integers");
  fields.read("layers", s.layers, "a list of strings");
  fields.read("swap_steps", s.swap_steps, "a string such as \"all\" or \"0-9\"");
  fields.read("steps", s.steps, "an integer");
  fields.read("cfg", s.cfg, "a number");
  fields.read("sampler", s.sampler, "a string");
  if (object.contains("warmup")) {
    if (!object["warmup"].is_object()) fields.fail("field 'warmup' must be an object {\"cfg\": number, \"steps\": integer}");
    FieldReader warmup(file, object["warmup"]);
    warmup.read("cfg", s.warmup_cfg, "a number (warmup.cfg)", true);
    warmup.read("steps", s.warmup_steps, "an integer (warmup.steps)", true);
  }
  if (s.style_template.find("{object}") == std::string::npos) fields.fail("field 'template' must contain {object}");
  if (s.targets.empty()) fields.fail("field 'targets' must list at least one object");
  if (!s.seeds.empty() && s.seeds.size() != s.targets.size())
    fields.fail("field 'seeds' must have one seed per target (" + std::to_string(s.targets.size()) + ")");
  if (s.steps < 1) fields.fail("field 'steps' must be at least 1");
  return s;
}

std::filesystem::path default_styles_folder() {
  if (const char* env = std::getenv("VSP_STYLES")) return env;
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    for (auto dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
      if (std::filesystem::is_directory(dir / "configs" / "styles")) return dir / "configs" / "styles";
  }
  return std::filesystem::path("configs") / "styles";
}

std::vector<StyleConfig> load_all_styles(const std::filesystem::path& folder) {
  if (!std::filesystem::is_directory(folder))
    throw Error("style folder " + folder.string() + " not found; set VSP_STYLES or pass --styles DIR");
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<StyleConfig> styles;
  for (const auto& f : files) styles.push_back(StyleConfig::load(f));
  return styles;
}

StyleConfig find_style(const std::filesystem::path& folder, const std::string& name) {
  const auto file = folder / (name + ".json");
  if (std::filesystem::is_regular_file(file)) return StyleConfig::load(file);
  std::vector<std::string> names;
  if (std::filesystem::is_directory(folder))
    for (const auto& entry : std::filesystem::directory_iterator(folder))
      if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  const auto near = closest(name, names);
  std::string hint;
  for (const auto& n : near) hint += (hint.empty() ? "" : ", ") + n;
  throw Error("unknown style '" + name + "'" + (hint.empty() ? "" : "; closest: " + hint) +
              " (vsp styles lists them all)");
}

}  // namespace vsp::app
