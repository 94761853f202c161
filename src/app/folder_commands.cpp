// `vsp transfer` (StyleID) and `vsp edit` (prompt-to-prompt) from the command line: one job of the
// mode, its outputs written to their own folder.
#include <torch/torch.h>

#include <chrono>

#include "vsp/app/commands.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/app/progress.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"

namespace vsp::app {
namespace {

namespace fs = std::filesystem;

struct FolderOptions {
  nlohmann::json job = nlohmann::json::object();
  std::string out;
  std::string latents_out;
  bool timings = false;
};

void run_folder_job(const Mode& mode, const FolderOptions& o, const CommonOptions& common) {
  const auto job = check_job_fields(o.job, mode.options, {}, FieldNaming::flag, "");
  if (o.out.empty()) throw UsageError("--out needs a folder");
  const fs::path out = o.out;
  fs::path latents_file;  // inside the output folder, as every file of the run
  if (!o.latents_out.empty()) {
    latents_file = inside_output_folder(o.latents_out, "--save-latents");
    if (latents_file.extension() != ".npy")
      throw UsageError("--save-latents must name a .npy file, got '" + o.latents_out + "'");
  }
  const auto manifest = models::Manifest::load(common.model);
  const auto planned = mode.plan(job, {manifest, "", ".", 0, common.deterministic});
  check_outputs(*planned, manifest, true, mode.memory_advice);
  check_run_files(*planned, out, latents_file);
  const OutputFolderLock lock(out);  // a run that fails leaves no folder it made behind

  const auto load_started = std::chrono::steady_clock::now();
  const auto model = [&] {
    pipeline::PhaseClock clock("load", c10::kCPU);
    return models::Model::load(common.model, common.device);
  }();
  model->release_text_encoders_after_use = true;  // one job: its prompt is encoded once
  Progress progress(mode.name, common.quiet);
  const auto result = planned->run(*model, [&](int done, int total) { progress.update(done, total); });
  const auto written = write_outputs(*planned, result, out, model->manifest);
  if (!latents_file.empty()) {
    const auto latents = result.latents.contiguous();
    fs::create_directories((out / latents_file).parent_path());
    io::write_npy(out / latents_file, latents.sizes().vec(), latents.data_ptr<float>());
  }
  log::info("wrote " + std::to_string(written.size() + (latents_file.empty() ? 0 : 1)) + " files to " + out.string());
  if (o.timings) print_timings(load_started);
}

// One subcommand running one job of `mode`, whose outputs go into the --out folder.
Action add_folder_command(CLI::App& app, CommonOptions& common, const Mode& mode, const std::string& description) {
  auto options = std::make_shared<FolderOptions>();
  options->out = "out/" + mode.name;
  auto* cmd = app.add_subcommand(mode.name, description);
  add_job_options(*cmd, mode.options, options->job);
  cmd->add_option("-o,--out", options->out, "Output folder")->capture_default_str();
  cmd->add_option("--save-latents", options->latents_out, "Also write the final latents as a .npy file in the output folder");
  cmd->add_flag("--timings", options->timings, "Print the model load and generation times (for benchmarks)");
  add_common_options(*cmd, common);
  return [&mode, options, &common] {
    run_folder_job(mode, *options, common);
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
