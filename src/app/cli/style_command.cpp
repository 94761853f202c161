// Visual style prompting from the command line: `vsp --style fire`, `vsp style ...`,
// `vsp --style-image "The starry night.png" --object cat`, and `vsp styles`. One job of the style
// mode, written to its own folder.
#include <algorithm>
#include <cstdio>

#include "vsp/app/commands.hpp"
#include "vsp/app/single_job.hpp"
#include "vsp/config/style_config.hpp"
#include "vsp/config/style_templates.hpp"

namespace vsp::app {
namespace {

struct StyleOptions {
  nlohmann::json job = nlohmann::json::object();
  bool timings = false;
  std::string out;
};

void run_style(const Mode& mode, const StyleOptions& o, const CommonOptions& common) {
  run_single_job({mode, o.job, "", o.timings, 0, true,
                  [&](PlannedJob& planned) {
                    const std::string style = planned.outputs.front().metadata["style"];
                    return Placement{
                        o.out.empty() ? std::filesystem::path("out") / style : std::filesystem::path(o.out),
                        "style " + style};
                  }},
                 common);
}

void add_style_options(CLI::App& app, const Mode& mode, StyleOptions& o) {
  add_job_options(app, mode.options, o.job);
  app.add_flag("--timings", o.timings, "Print the model load and generation times (for benchmarks)");
  app.add_option("-o,--out", o.out, "Output folder (default: out/<style>)")->type_name("DIR");
}

}  // namespace

Action add_style_mode(CLI::App& app, CommonOptions& common) {
  const Mode& mode = find_mode("style", "");
  auto options = std::make_shared<StyleOptions>();
  add_style_options(app, mode, *options);
  return [&mode, options, &common] {
    run_style(mode, *options, common);
    return 0;
  };
}

Action add_style_command(CLI::App& app, CommonOptions& common, const Mode& mode) {
  auto options = std::make_shared<StyleOptions>();
  auto* cmd = app.add_subcommand(mode.name, mode.description);
  add_style_options(*cmd, mode, *options);
  add_common_options(*cmd, common);
  return [&mode, options, &common] {
    run_style(mode, *options, common);
    return 0;
  };
}

Action add_styles_command(CLI::App& app, CommonOptions&) {
  auto folder = std::make_shared<std::string>();
  auto templates = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("styles", "List the styles with their descriptions (--templates: the templates)");
  cmd->add_option("--styles", *folder, "Style folder (default: configs/styles, or $VSP_STYLES)");
  cmd->add_flag("--templates", *templates, "List the prompt templates (--template NAME) with their text instead");
  return [folder, templates] {
    if (*templates) {
      const auto all = load_templates(default_templates_file());
      size_t width = 0;
      for (const auto& [name, t] : all) width = std::max(width, name.size());
      for (const auto& [name, t] : all)
        std::printf("%-*s  %s\n", static_cast<int>(width), name.c_str(), t.text.c_str());
      return 0;
    }
    const auto listing = load_all_styles(folder->empty() ? default_styles_folder() : std::filesystem::path(*folder));
    size_t width = 0;
    for (const auto& s : listing.styles) width = std::max(width, s.name.size());
    for (const auto& s : listing.styles)
      std::printf("%-*s  %s\n", static_cast<int>(width), s.name.c_str(), s.description.c_str());
    for (const auto& error : listing.errors) std::fprintf(stderr, "error: %s\n", error.c_str());
    return listing.errors.empty() ? 0 : 1;
  };
}

}  // namespace vsp::app
