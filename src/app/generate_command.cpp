// `vsp generate`: text to image, one job of the generate mode from the command line.
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
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

struct GenerateOptions {
  nlohmann::json job = nlohmann::json::object();
  std::string out = "out.png";
  std::string latents_out;
  bool timings = false;
};

// Images per UNet call for --num: enough to keep a GPU busy, few enough that --num 1000 does not
// need a thousand images' activations at once. Chunking never changes the pixels (tested).
constexpr int64_t kImagesPerCall = 8;

// out.png for one image; out-0.png, out-1.png, ... for several.
fs::path output_path(const fs::path& out, size_t index, size_t count) {
  if (count == 1) return out;
  auto name = out.stem().string() + "-" + std::to_string(index) + out.extension().string();
  return out.parent_path() / name;
}

bool has_extension(const fs::path& path, const std::string& lower) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == lower;
}

void run_generate(const GenerateOptions& o, const CommonOptions& common) {
  const auto job = check_job_fields(o.job, generate_mode().options, {}, FieldNaming::flag, "");
  const fs::path out = o.out;
  if (!has_extension(out, ".png") || out.stem().empty())
    throw UsageError("--out must name a .png file, got '" + o.out + "'");
  fs::path latents_file;  // beside the images: inside --out's folder, as every file of the run
  if (!o.latents_out.empty()) {
    latents_file = out.parent_path() / inside_output_folder(o.latents_out, "--save-latents");
    if (!has_extension(latents_file, ".npy"))
      throw UsageError("--save-latents must name a .npy file, got '" + o.latents_out + "'");
  }
  const auto manifest = models::Manifest::load(common.model);
  auto planned = generate_mode().plan(job, {manifest, "", ".", kImagesPerCall, common.deterministic});
  size_t next = 0;
  // One run's outputs, named after `base`: out.png (out-0.png, ... for --num), and with --control
  // last the control map the ControlNet saw, out_control.png.
  const auto name_run = [&](const fs::path& base, size_t count) {
    const size_t images = count - (job.contains("control") ? 1 : 0);
    for (size_t i = 0; i < count; ++i) {
      planned->outputs[next + i].file =
          i < images ? output_path(base, i, images) : base.parent_path() / (base.stem().string() + "_control.png");
    }
    next += count;
  };
  // A folder of control pictures: a run per picture, named after it (out_bird.png).
  if (const auto* runs = dynamic_cast<const ControlFolderJob*>(planned.get())) {
    for (size_t p = 0; p < runs->parts.size(); ++p)
      name_run(out.parent_path() / (out.stem().string() + "_" + runs->part_names[p] + ".png"),
               runs->parts[p]->outputs.size());
  } else {
    name_run(out, planned->outputs.size());
  }
  check_outputs(*planned, manifest, false, generate_mode().memory_advice);
  check_run_files(*planned, "", latents_file);

  const auto load_started = std::chrono::steady_clock::now();
  const auto model = [&] {
    pipeline::PhaseClock clock("load", c10::kCPU);
    return models::Model::load(common.model, common.device);
  }();
  model->release_text_encoders_after_use = true;  // one job: its prompts are encoded once
  Progress progress("generate", common.quiet);
  const auto result = planned->run(*model, [&](int done, int total) { progress.update(done, total); });

  for (const auto& path : write_outputs(*planned, result, "", model->manifest)) log::info("wrote " + path.string());
  if (!latents_file.empty()) {
    const auto latents = result.latents.contiguous();
    if (!latents_file.parent_path().empty()) fs::create_directories(latents_file.parent_path());
    io::write_npy(latents_file, latents.sizes().vec(), latents.data_ptr<float>());
  }
  if (o.timings) print_timings(load_started);
}

}  // namespace

Action add_generate_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<GenerateOptions>();
  auto* cmd = app.add_subcommand("generate", "Text to image with SDXL");
  add_job_options(*cmd, generate_mode().options, options->job);
  cmd->add_option("-o,--out", options->out, "Output PNG (several images: out-0.png, out-1.png, ...)")
      ->capture_default_str();
  cmd->add_option("--save-latents", options->latents_out, "Also write the final latents as a .npy file in --out's folder");
  cmd->add_flag("--timings", options->timings, "Print the model load and generation times (for benchmarks)");
  add_common_options(*cmd, common);
  return [options, &common] {
    run_generate(*options, common);
    return 0;
  };
}

}  // namespace vsp::app
