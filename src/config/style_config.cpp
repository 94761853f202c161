#include "vsp/config/style_config.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "vsp/config/json_fields.hpp"
#include "vsp/config/parse_json.hpp"
#include "vsp/config/paths.hpp"
#include "vsp/config/sampler_names.hpp"
#include "vsp/config/style_templates.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

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
  const JsonFields fields(object, file.string());
  if (!object.is_object()) fields.fail("a style must be a JSON object");
  for (auto item = object.begin(); item != object.end(); ++item) {
    if (kFields.count(item.key())) continue;
    fields.fail("unknown field '" + item.key() + "'" + did_you_mean(item.key(), {kFields.begin(), kFields.end()}, "'"));
  }
  s.name = fields.text("name");
  if (!values::valid_output_name(s.name))
    fields.fail_field("name", "must be up to 200 letters, digits, '.', '_' or '-' (it names the output folder)");
  s.description = fields.text("description");
  // A template is a text with {object} or a shipped template's name.
  const auto read_template = [&](const char* key, std::string& out) -> const StyleTemplate* {
    if (!fields.has(key)) return nullptr;
    out = fields.text(key);
    if (out.find("{object}") != std::string::npos) return nullptr;
    try {
      const auto& named = find_template(out);
      out = named.text;
      return &named;
    } catch (const Error& e) {
      fields.fail_field(key, std::string("has no {object} and names no template: ") + e.what());
    }
  };
  std::string style_template = fields.text("template");
  const auto* named = read_template("template", style_template);
  s.reference_template = s.target_template = style_template;
  read_template("reference_template", s.reference_template);
  read_template("target_template", s.target_template);
  if (named != nullptr) s.negative = named->negative;
  s.reference_object = fields.text("reference_object");
  s.reference_seed = static_cast<uint64_t>(fields.integer_or("reference_seed", 0, 0, values::kMaxSeed));
  // "negative": null turns a named template's negative prompt off.
  if (fields.has("negative")) {
    if (object["negative"].is_null())
      s.negative.reset();
    else
      s.negative = fields.text("negative");
  }
  s.zero_target_negatives = fields.flag_or("zero_target_negatives", s.zero_target_negatives);
  s.targets = fields.texts("targets");
  for (const auto seed : fields.integers_or("seeds", {}, 0, values::kMaxSeed))
    s.seeds.push_back(static_cast<uint64_t>(seed));
  s.layers = fields.texts_or("layers", s.layers);
  s.swap_steps = fields.text_or("swap_steps", s.swap_steps);
  s.steps = static_cast<int>(fields.integer_or("steps", s.steps, 1, 1000));
  s.cfg = fields.number_or("cfg", s.cfg, 0, 100);
  s.sampler = sampling::sampler_from_alias(fields.text_or("sampler", s.sampler));
  s.shared_attention = fields.flag_or("shared_attention", s.shared_attention);
  s.shared_adain = fields.flag_or("shared_adain", s.shared_adain);
  if (fields.has("warmup")) {
    if (!object["warmup"].is_object())
      fields.fail_field("warmup", "must be an object {\"cfg\": number, \"steps\": integer}");
    const auto warmup = fields.nested("warmup");
    s.warmup_cfg = warmup.number("cfg", 0, 100);
    s.warmup_steps = static_cast<int>(warmup.integer("steps", 0, 1000));
  }
  if (s.targets.empty()) fields.fail_field("targets", "must list at least one object");
  if (s.layers.empty()) fields.fail_field("layers", "must name at least one layer or module, e.g. up_blocks.1");
  if (!s.seeds.empty() && s.seeds.size() != s.targets.size())
    fields.fail_field("seeds", "must have one seed per target (" + std::to_string(s.targets.size()) + ")");
  if (s.warmup_steps > s.steps)
    fields.fail_field("warmup.steps", "(" + std::to_string(s.warmup_steps) + ") must not exceed 'steps' (" +
                                          std::to_string(s.steps) + ")");
  return s;
}

std::filesystem::path default_styles_folder() {
  if (const char* env = std::getenv("VSP_STYLES"); env && *env) return env;
  return shipped_config("styles");
}

namespace {

void require_style_folder(const std::filesystem::path& folder) {
  if (is_folder(folder)) return;
  const char* env = std::getenv("VSP_STYLES");
  if (env && *env && folder == env)
    throw Error("style folder " + folder.string() +
                " (VSP_STYLES) does not exist; fix VSP_STYLES, or unset it to use the shipped styles");
  if (folder == shipped_config("styles"))
    throw Error(
        "vsp's shipped styles are not beside this binary (no configs/styles or share/vsp/configs/styles "
        "above it); install vsp with cmake --install (README, Install), or pass --styles DIR");
  throw Error("style folder " + folder.string() + " does not exist; fix --styles");
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
