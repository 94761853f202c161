#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vsp::app {

// A style: configs/styles/<name>.json (schema in the README).
struct StyleConfig {
  std::filesystem::path file;
  std::string name;
  std::string description;
  // "template" (both sides), or "reference_template" / "target_template": each a text with
  // {object} or the name of a shipped template (configs/templates.json).
  std::string reference_template;
  std::string target_template;
  std::string reference_object;
  uint64_t reference_seed = 0;
  // null: zero negatives; "" is encoded. Absent with a named "template": that template's negative.
  std::optional<std::string> negative;
  bool zero_target_negatives = false;
  std::vector<std::string> targets;
  std::vector<uint64_t> seeds;
  std::vector<std::string> layers{"default"};
  std::string swap_steps = "all";
  int steps = 50;
  double cfg = 7.0;
  std::string sampler = "euler";
  int warmup_steps = 0;
  double warmup_cfg = 0;
  bool shared_attention = false;  // StyleAligned-style shared attention instead of the swap
  bool shared_adain = true;       // with it, AdaIN of the targets' queries and keys

  // The side's template with {object} replaced by `object`.
  std::string reference_prompt(const std::string& object) const;
  std::string target_prompt(const std::string& object) const;
  // Throws vsp::Error naming the file, the field and the expected type.
  static StyleConfig load(const std::filesystem::path& file);
};

// The style folder: $VSP_STYLES, else configs/styles beside the executable's repository, else
// ./configs/styles.
std::filesystem::path default_styles_folder();
// Every style of a folder; a file that does not load is listed in errors (one line each) rather
// than hiding the others. Throws vsp::Error when the folder is missing.
struct StyleListing {
  std::vector<StyleConfig> styles;
  std::vector<std::string> errors;
};
StyleListing load_all_styles(const std::filesystem::path& folder);
// Throws vsp::Error listing the closest names when there is no such style, and naming the folder
// when it does not exist.
StyleConfig find_style(const std::filesystem::path& folder, const std::string& name);

}  // namespace vsp::app
