// `vsp transfer` (StyleID) and `vsp edit` (prompt-to-prompt) from the command line: one job of the
// mode, its outputs written to their own folder.
#include "vsp/app/commands.hpp"
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

// One subcommand running one job of `mode`, whose outputs go into the --out folder.
Action add_folder_command(CLI::App& app, CommonOptions& common, const Mode& mode, const std::string& description) {
  auto options = std::make_shared<FolderOptions>();
  options->out = "out/" + mode.name;
  auto* cmd = app.add_subcommand(mode.name, description);
  add_job_options(*cmd, mode.options, options->job);
  cmd->add_option("-o,--out", options->out, "Output folder")->capture_default_str();
  cmd->add_option("--save-latents", options->latents_out,
                  "Also write the final latents as a .npy file in the output folder");
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

}  // namespace

Action add_transfer_command(CLI::App& app, CommonOptions& common) {
  return add_folder_command(app, common, transfer_mode(),
                            "Restyle content pictures with style pictures (StyleID style injection)");
}

Action add_edit_command(CLI::App& app, CommonOptions& common) {
  return add_folder_command(app, common, edit_mode(), "Edit an image by editing its prompt (prompt-to-prompt)");
}

}  // namespace vsp::app
