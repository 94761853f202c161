#include "vsp/config/style_templates.hpp"

#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "vsp/config/parse_json.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp::app {

std::filesystem::path shipped_config(const std::string& name) {
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    // A build (build/vsp beside the source's configs/) or an install (PREFIX/bin/vsp and
    // PREFIX/share/vsp/configs/), wherever it was copied or installed to.
    for (auto dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
      for (const auto& configs : {dir / "configs", dir / "share" / "vsp" / "configs"})
        if (std::filesystem::exists(configs / name)) return configs / name;
  }
  return std::filesystem::path("configs") / name;
}

std::filesystem::path default_templates_file() { return shipped_config("templates.json"); }

std::map<std::string, StyleTemplate> load_templates(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error("cannot read the template file " + file.string() + "; it ships as configs/templates.json");
  const auto json = parse_json(std::string(std::istreambuf_iterator<char>(in), {}), file.string());
  if (!json.is_object()) throw Error(file.string() + " must be an object of name -> {\"template\", \"negative\"}");
  std::map<std::string, StyleTemplate> templates;
  for (auto item = json.begin(); item != json.end(); ++item) {
    const auto& entry = item.value();
    const auto field = [&](const char* key) {
      if (!entry.is_object() || !entry.contains(key) || !entry[key].is_string() ||
          !values::valid_utf8(entry[key].get<std::string>()))
        throw Error(file.string() + ": template '" + item.key() + "' needs a string field '" + key + "'");
      return entry[key].get<std::string>();
    };
    StyleTemplate t{item.key(), field("template"), field("negative")};
    if (t.text.find("{object}") == std::string::npos)
      throw Error(file.string() + ": template '" + t.name + "' must contain {object}");
    templates.emplace(t.name, std::move(t));
  }
  return templates;
}

const StyleTemplate& find_template(const std::string& name) {
  // Read at the first use: styles with their own template text never need the file.
  static std::once_flag loaded;
  static std::map<std::string, StyleTemplate> templates;
  static std::optional<Error> failure;
  std::call_once(loaded, [] {
    try {
      templates = load_templates(default_templates_file());
    } catch (const Error& e) {
      failure = e;
    }
  });
  if (failure) throw *failure;
  const auto found = templates.find(name);
  if (found != templates.end()) return found->second;
  std::vector<std::string> names;
  for (const auto& entry : templates) names.push_back(entry.first);
  const auto list = join(closest(name, names, 3));
  throw Error("unknown template '" + name + "'" + (list.empty() ? "" : "; closest: " + list) +
              " (a template is a name from configs/templates.json or a text with {object})");
}

std::string fill_template(const std::string& text, const std::string& object) {
  std::string prompt = text;
  for (size_t at = 0; (at = prompt.find("{object}", at)) != std::string::npos; at += object.size())
    prompt.replace(at, 8, object);
  return prompt;
}

}  // namespace vsp::app
