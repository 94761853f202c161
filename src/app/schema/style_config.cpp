#include "vsp/app/style_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "vsp/app/style_templates.hpp"
#include "vsp/config/parse_json.hpp"
#include "vsp/config/paths.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

// Reads a style file's fields with messages that name the file, the field and what it must be.
// Numbers are read exactly: a seed of -1 or 1.5, or steps of 2.7 or 2^32+1, are errors.
class FieldReader {
 public:
  FieldReader(const std::filesystem::path& file, const json& object, std::string prefix = "")
      : file_(file), object_(object), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return object_.contains(key); }
  void text(const char* key, std::string& out, bool required = false) const {
    if (!present(key, required, "a string")) return;
    const auto& value = object_.at(key);
    if (!value.is_string()) wrong(key, "a string");
    if (!values::valid_utf8(value.get_ref<const std::string&>())) wrong(key, "UTF-8 text");
    out = value.get<std::string>();
  }
  void texts(const char* key, std::vector<std::string>& out, bool required = false) const {
    if (!present(key, required, "a list of strings")) return;
    const auto& value = object_.at(key);
    if (!value.is_array()) wrong(key, "a list of strings");
    out.clear();
    for (const auto& item : value) {
      if (!item.is_string() || !values::valid_utf8(item.get_ref<const std::string&>())) wrong(key, "a list of strings");
      out.push_back(item.get<std::string>());
    }
  }
  template <typename T>
  void integer(const char* key, T& out, int64_t minimum, int64_t maximum, bool required = false) const {
    const std::string what = "an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum);
    if (!present(key, required, what)) return;
    const auto v = values::integer_in(object_.at(key), minimum, maximum);
    if (!v) wrong(key, what);
    out = static_cast<T>(*v);
  }
  void seeds(const char* key, std::vector<uint64_t>& out) const {
    const std::string what = "a list of seeds (integers from 0 to " + std::to_string(values::kMaxSeed) + ")";
    if (!present(key, false, what)) return;
    if (!object_.at(key).is_array()) wrong(key, what);
    out.clear();
    for (const auto& item : object_.at(key)) {
      const auto v = values::integer_in(item, 0, values::kMaxSeed);
      if (!v) wrong(key, what);
      out.push_back(static_cast<uint64_t>(*v));
    }
  }
  void number(const char* key, double& out, double minimum, double maximum, bool required = false) const {
    const std::string what = "a number from " + values::shown(minimum) + " to " + values::shown(maximum);
    if (!present(key, required, what)) return;
    const auto v = values::number_in(object_.at(key), minimum, maximum);
    if (!v) wrong(key, what);
    out = *v;
  }
  void flag(const char* key, bool& out) const {
    if (!present(key, false, "true or false")) return;
    if (!object_.at(key).is_boolean()) wrong(key, "true or false");
    out = object_.at(key).get<bool>();
  }
  [[noreturn]] void fail(const std::string& what) const { throw Error(file_.string() + ": " + what); }

 private:
  bool present(const char* key, bool required, const std::string& what) const {
    if (object_.contains(key)) return true;
    if (required) fail("missing field '" + prefix_ + key + "' (" + what + ")");
    return false;
  }
  [[noreturn]] void wrong(const char* key, const std::string& what) const {
    std::string got = object_.at(key).dump(-1, ' ', false, json::error_handler_t::replace);
    if (got.size() > 60) got = got.substr(0, 57) + "...";
    fail("field '" + prefix_ + key + "' must be " + what + ", got " + got);
  }

  const std::filesystem::path& file_;
  const json& object_;
  std::string prefix_;
};

const std::set<std::string> kFields = {"name",
                                       "description",
                                       "template",
                                       "reference_template",
                                       "target_template",
                                       "reference_object",
                                       "reference_seed",
                                       "negative",
                                       "zero_target_negatives",
                                       "targets",
                                       "seeds",
                                       "layers",
                                       "swap_steps",
                                       "steps",
                                       "cfg",
                                       "sampler",
                                       "warmup",
                                       "shared_attention",
                                       "shared_adain"};

}  // namespace

std::string StyleConfig::reference_prompt(const std::string& object) const {
  return fill_template(reference_template, object);
}

std::string StyleConfig::target_prompt(const std::string& object) const {
  return fill_template(target_template, object);
}

StyleConfig StyleConfig::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error("cannot read style file " + file.string());
  const json object = parse_json(std::string(std::istreambuf_iterator<char>(in), {}), file.string());
  StyleConfig s;
  s.file = file;
  FieldReader fields(file, object);
  if (!object.is_object()) fields.fail("a style must be a JSON object");
  for (auto item = object.begin(); item != object.end(); ++item) {
    if (kFields.count(item.key())) continue;
    fields.fail("unknown field '" + item.key() + "'" + did_you_mean(item.key(), {kFields.begin(), kFields.end()}, "'"));
  }
  fields.text("name", s.name, true);
  if (!values::valid_output_name(s.name))
    fields.fail("field 'name' must be up to 200 letters, digits, '.', '_' or '-' (it names the output folder)");
  fields.text("description", s.description, true);
  // A template is a text with {object} or a shipped template's name.
  const auto read_template = [&](const char* key, std::string& out) -> const StyleTemplate* {
    fields.text(key, out, std::string(key) == "template");
    if (out.find("{object}") != std::string::npos || !fields.has(key)) return nullptr;
    try {
      const auto& named = find_template(out);
      out = named.text;
      return &named;
    } catch (const Error& e) {
      fields.fail("field '" + std::string(key) + "': " + e.what());
    }
  };
  std::string style_template;
  const auto* named = read_template("template", style_template);
  s.reference_template = s.target_template = style_template;
  read_template("reference_template", s.reference_template);
  read_template("target_template", s.target_template);
  if (named != nullptr) s.negative = named->negative;
  fields.text("reference_object", s.reference_object, true);
  fields.integer("reference_seed", s.reference_seed, 0, values::kMaxSeed);
  if (fields.has("negative") && object["negative"].is_null()) {
    s.negative.reset();
  } else if (fields.has("negative")) {
    std::string negative;
    fields.text("negative", negative);
    s.negative = negative;
  }
  fields.flag("zero_target_negatives", s.zero_target_negatives);
  fields.texts("targets", s.targets, true);
  fields.seeds("seeds", s.seeds);
  fields.texts("layers", s.layers);
  fields.text("swap_steps", s.swap_steps);
  fields.integer("steps", s.steps, 1, 1000);
  fields.number("cfg", s.cfg, 0, 100);
  fields.text("sampler", s.sampler);
  fields.flag("shared_attention", s.shared_attention);
  fields.flag("shared_adain", s.shared_adain);
  if (fields.has("warmup")) {
    if (!object["warmup"].is_object())
      fields.fail("field 'warmup' must be an object {\"cfg\": number, \"steps\": integer}");
    FieldReader warmup(file, object["warmup"], "warmup.");
    warmup.number("cfg", s.warmup_cfg, 0, 100, true);
    warmup.integer("steps", s.warmup_steps, 0, 1000, true);
  }
  if (s.targets.empty()) fields.fail("field 'targets' must list at least one object");
  if (s.layers.empty()) fields.fail("field 'layers' must name at least one layer or module, e.g. up_blocks.1");
  if (!s.seeds.empty() && s.seeds.size() != s.targets.size())
    fields.fail("field 'seeds' must have one seed per target (" + std::to_string(s.targets.size()) + ")");
  if (s.warmup_steps > s.steps)
    fields.fail("field 'warmup.steps' (" + std::to_string(s.warmup_steps) + ") must not exceed 'steps' (" +
                std::to_string(s.steps) + ")");
  return s;
}

std::filesystem::path default_styles_folder() {
  if (const char* env = std::getenv("VSP_STYLES"); env && *env) return env;
  return shipped_config("styles");
}

namespace {

void require_style_folder(const std::filesystem::path& folder) {
  if (!is_folder(folder))
    throw Error("style folder " + folder.string() +
                " does not exist; fix --styles or VSP_STYLES (unset it to use the shipped configs/styles)");
}

}  // namespace

StyleListing load_all_styles(const std::filesystem::path& folder) {
  require_style_folder(folder);
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  if (ec) throw Error("cannot read style folder " + folder.string() + ": " + ec.message() + "; check its permissions");
  std::sort(files.begin(), files.end());
  StyleListing listing;
  for (const auto& f : files) {
    try {
      listing.styles.push_back(StyleConfig::load(f));
    } catch (const Error& e) {
      listing.errors.push_back(e.what());  // one broken file must not hide the others
    }
  }
  return listing;
}

StyleConfig find_style(const std::filesystem::path& folder, const std::string& name) {
  if (!values::valid_output_name(name))
    throw Error("'" + name + "' is not a style name (letters, digits, '.', '_' or '-'); vsp styles lists them");
  require_style_folder(folder);
  const auto file = folder / (name + ".json");
  if (std::filesystem::is_regular_file(file)) return StyleConfig::load(file);
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec))
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  const auto near = closest(name, names);
  const std::string hint = join(near);
  throw Error("unknown style '" + name + "' in " + folder.string() + (hint.empty() ? "" : "; closest: " + hint) +
              " (vsp styles lists them all)");
}

}  // namespace vsp::app
