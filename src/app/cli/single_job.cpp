#include "vsp/app/single_job.hpp"

#include <torch/torch.h>

#include <chrono>
#include <optional>

#include "vsp/app/job_result.hpp"
#include "vsp/app/progress.hpp"
#include "vsp/app/rerun.hpp"
#include "vsp/config/output_files.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"

namespace vsp::app {

namespace fs = std::filesystem;

void run_single_job(const SingleJob& run, const CommonOptions& common) {
  auto given = run.job;
  if (common.rerun) {
    given = common.rerun->job;
    given.update(run.job);  // the flags given change the recorded job
  }
  const auto job = check_job_fields(given, run.mode.options, {}, FieldNaming::flag, "");
  if (run.job.value("seed", nlohmann::json()) == -1) log::info("--seed -1: drew seed " + job["seed"].dump());
  fs::path latents_file;  // inside the output folder, as every file of the run
  if (!run.latents.empty()) {
    latents_file = inside_output_folder(run.latents, "--save-latents");
    if (!has_extension(latents_file, ".npy"))
      throw UsageError("--save-latents must name a .npy file, got '" + run.latents + "'");
  }
  const auto manifest = models::Manifest::load(common.model);
  if (common.rerun && !common.rerun->model_hash.empty() && common.rerun->model_hash != manifest.hash)
    log::warn(common.rerun->image + " was made with the export '" + common.rerun->model + "' (hash " +
              common.rerun->model_hash + "), not " + common.model + " (hash " + manifest.hash +
              "): the images will differ; pass --model with that export to reproduce it");
  const auto planned = run.mode.plan(job, {manifest, "", ".", run.images_per_call, common.deterministic});
  const Placement placement = run.place(*planned);
  check_outputs(*planned, manifest, true, run.mode.memory_advice);
  check_run_files(*planned, placement.folder, latents_file);
  RunFiles files{placement.folder, output_files(*planned), {}, ""};
  if (!latents_file.empty()) files.mine.push_back(latents_file);
  files.ours = files.mine;
  const auto earlier = common.overwrite ? EarlierOutputs::overwrite : EarlierOutputs::refuse;
  std::optional<OutputFolderLock> lock;  // a run that fails leaves no folder it made behind
  if (run.lock_folder) {
    lock.emplace(placement.folder);
    claim_output_folder(files, earlier);
  } else {
    check_named_files(files, earlier);
  }

  const auto load_started = std::chrono::steady_clock::now();
  Progress progress(placement.label, common.quiet);
  const auto report = [&](const pipeline::ProgressEvent& event) { progress.update(event); };
  const auto model = [&] {
    pipeline::PhaseClock clock("load", c10::kCPU);
    return models::Model::load(common.model, common.device, [&](const std::string& modules, int done, int total) {
      report({"load", done, total, modules});
    });
  }();
  model->release_text_encoders_after_use = true;  // one job: its prompts are encoded once
  model->set_loras(planned->loras);
  const auto result = planned->run(*model, report);

  auto written = write_outputs(*planned, result, placement.folder, model->manifest);
  if (!latents_file.empty()) {
    const auto path = placement.folder / latents_file;
    if (!path.parent_path().empty()) fs::create_directories(path.parent_path());
    const auto latents = result.latents.contiguous();
    io::write_npy(path, latents.sizes().vec(), latents.data_ptr<float>());
    written.push_back(path);
  }
  const std::string folder = placement.folder.empty() ? "." : placement.folder.string();
  log::info(written.size() == 1 ? "wrote " + written.front().string()
                                : "wrote " + std::to_string(written.size()) + " files to " + folder);
  if (run.timings) print_timings(load_started);
}

}  // namespace vsp::app
