// Visual style prompting from the command line: `vsp --style fire`, `vsp style ...`,
// `vsp --style-image "The starry night.png" --object cat`, and `vsp styles`. One job of the style
// mode, written to its own folder.
#include <torch/torch.h>

#include <chrono>

#include "vsp/app/commands.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/app/progress.hpp"
#include "vsp/app/style_config.hpp"
#include "vsp/app/style_templates.hpp"
#include "vsp/io/log.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"

namespace vsp::app {
namespace {

struct StyleOptions {
  nlohmann::json job = nlohmann::json::object();
  bool timings = false;
  std::string out;
};

void run_style(const StyleOptions& o, const CommonOptions& common) {
  const auto job = check_job_fields(o.job, style_mode().options, {}, FieldNaming::flag, "");
  const auto manifest = models::Manifest::load(common.model);
  const auto planned = style_mode().plan(job, {manifest, "", ".", 0, common.deterministic});
  check_outputs(*planned, manifest, true, style_mode().memory_advice);
  const std::string style = planned->outputs.front().metadata["style"];
  const auto out = o.out.empty() ? std::filesystem::path("out") / style : std::filesystem::path(o.out);
  check_run_files(*planned, out, {});
  const OutputFolderLock lock(out);  // a run that fails leaves no folder it made behind

  const auto load_started = std::chrono::steady_clock::now();
  const auto model = [&] {
    pipeline::PhaseClock clock("load", c10::kCPU);
    return models::Model::load(common.model, common.device);
  }();
  model->release_text_encoders_after_use = true;  // one job: its prompts are encoded once
  Progress progress("style " + style, common.quiet);
  const auto result = planned->run(*model, [&](int done, int total) { progress.update(done, total); });
  const auto written = write_outputs(*planned, result, out, model->manifest);
  log::info("wrote " + std::to_string(written.size()) + " files to " + out.string());
  if (o.timings) print_timings(load_started);
}

void add_style_options(CLI::App& app, StyleOptions& o) {
  add_job_options(app, style_mode().options, o.job);
  app.add_flag("--timings", o.timings, "Print the model load and generation times (for benchmarks)");
  app.add_option("-o,--out", o.out, "Output folder (default: out/<style>)");
}

}  // namespace

Action add_style_mode(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<StyleOptions>();
  add_style_options(app, *options);
  return [options, &common] {
    run_style(*options, common);
    return 0;
  };
}

Action add_style_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<StyleOptions>();
  auto* cmd = app.add_subcommand("style", "Visual style prompting (the same as vsp --style ...)");
  add_style_options(*cmd, *options);
  add_common_options(*cmd, common);
  return [options, &common] {
    run_style(*options, common);
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
      for (const auto& [name, t] : all) std::printf("%-*s  %s\n", static_cast<int>(width), name.c_str(), t.text.c_str());
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
