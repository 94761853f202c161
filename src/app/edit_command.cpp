// `vsp edit`: prompt-to-prompt from the command line, one job of the edit mode written to its own
// folder.
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

struct EditOptions {
  nlohmann::json job = nlohmann::json::object();
  std::string out = "out/edit";
  std::string latents_out;
  bool timings = false;
};

void run_edit(const EditOptions& o, const CommonOptions& common) {
  const auto job = check_job_fields(o.job, edit_mode().options, {}, FieldNaming::flag, "");
  if (!o.latents_out.empty() && fs::path(o.latents_out).extension() != ".npy")
    throw Error("--save-latents must name a .npy file, got '" + o.latents_out + "'");
  const auto manifest = models::Manifest::load(common.model);
  const auto planned = edit_mode().plan(job, {manifest, "", ".", 0});
  check_outputs(*planned, manifest, true);
  const fs::path out = o.out;
  // Check now, create late: a run that fails leaves no folder behind.
  auto existing = out;
  while (!existing.empty() && !fs::exists(existing)) existing = existing.parent_path();
  io::ensure_writable((existing.empty() ? fs::path(".") : existing) / "grid.png");
  if (!o.latents_out.empty()) io::ensure_writable(o.latents_out);

  const auto load_started = std::chrono::steady_clock::now();
  const auto model = [&] {
    pipeline::PhaseClock clock("load", c10::kCPU);
    return models::Model::load(common.model, common.device);
  }();
  model->release_text_encoders_after_use = true;  // one job: its prompt is encoded once
  Progress progress("edit", common.quiet);
  const auto result = planned->run(*model, [&](int done, int total) { progress.update(done, total); });
  const auto written = write_outputs(*planned, result, out, model->manifest);
  if (!o.latents_out.empty()) {
    const auto latents = result.latents.contiguous();
    io::write_npy(o.latents_out, latents.sizes().vec(), latents.data_ptr<float>());
  }
  log::info("wrote " + std::to_string(written.size()) + " files to " + out.string());
  if (o.timings) print_timings(load_started);
}

}  // namespace

Action add_edit_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<EditOptions>();
  auto* cmd = app.add_subcommand("edit", "Edit an image by editing its prompt (prompt-to-prompt)");
  add_job_options(*cmd, edit_mode().options, options->job);
  cmd->add_option("-o,--out", options->out, "Output folder")->capture_default_str();
  cmd->add_option("--save-latents", options->latents_out, "Also write the final latents as a .npy file");
  cmd->add_flag("--timings", options->timings, "Print the model load and generation times (for benchmarks)");
  add_common_options(*cmd, common);
  return [options, &common] {
    run_edit(*options, common);
    return 0;
  };
}

}  // namespace vsp::app
