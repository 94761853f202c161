#pragma once
#include <filesystem>
#include <map>
#include <string>

namespace vsp::app {

// A named prompt template: the paper's style descriptions (configs/templates.json), usable with
// any object by name (--template NAME, or "template": NAME in a style file).
struct StyleTemplate {
  std::string name;
  std::string text;      // contains {object}
  std::string negative;  // encoded for every row, even when ""
};

// configs/<name> in the first folder above the executable that has it (the repository the binary
// was built in), else ./configs/<name>.
std::filesystem::path shipped_config(const std::string& name);
// shipped_config("templates.json").
std::filesystem::path default_templates_file();
// Every template of a file, by name. Throws vsp::Error naming the file and the problem.
std::map<std::string, StyleTemplate> load_templates(const std::filesystem::path& file);
// The shipped template called `name`, read once from default_templates_file(). Throws vsp::Error
// listing the closest names when there is none.
const StyleTemplate& find_template(const std::string& name);
// {object} in `text` replaced by `object`.
std::string fill_template(const std::string& text, const std::string& object);

}  // namespace vsp::app
