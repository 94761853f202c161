// A mode's subcommand, by its kind; the folder kind (`vsp transfer`, `vsp edit`): one job of the
// mode, its outputs written to the --out folder.
#include "vsp/app/commands.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/app/single_job.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

struct FolderOptions {
  nlohmann::json job = nlohmann::json::object();
  std::string out;
  std::string latents_out;
  bool timings = false;
};

}  // namespace

Action add_folder_command(CLI::App& app, CommonOptions& common, const Mode& mode) {
  auto options = std::make_shared<FolderOptions>();
  options->out = "out/" + mode.name;
  auto* cmd = app.add_subcommand(mode.name, mode.description);
  add_job_options(*cmd, mode.options, options->job);
  cmd->add_option("-o,--out", options->out, "Output folder")->type_name("DIR")->capture_default_str();
  cmd->add_option("--save-latents", options->latents_out,
                  "Also write the final latents as a .npy file in the output folder")
      ->type_name("FILE");
  cmd->add_flag("--timings", options->timings, "Print the model load and generation times (for benchmarks)");
  add_common_options(*cmd, common);
  return [&mode, options, &common] {
    if (options->out.empty()) throw UsageError("--out needs a folder");
    run_single_job({mode, options->job, options->latents_out, options->timings, 0, true,
                    [&](PlannedJob&) {
                      return Placement{options->out, mode.name};
                    }},
                   common);
    return 0;
  };
}

Action add_mode_command(CLI::App& app, CommonOptions& common, const Mode& mode) {
  switch (mode.command) {
    case CommandKind::named_files:
      return add_named_files_command(app, common, mode);
    case CommandKind::style_folder:
      return add_style_command(app, common, mode);
    case CommandKind::folder:
      return add_folder_command(app, common, mode);
  }
  throw std::logic_error("mode " + mode.name + " has no command kind");
}

}  // namespace vsp::app
