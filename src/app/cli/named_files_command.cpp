// The named-files command (`vsp generate`): one job of the mode, its images named by --out.
#include "vsp/app/commands.hpp"
#include "vsp/app/single_job.hpp"
#include "vsp/config/output_files.hpp"
#include "vsp/error.hpp"

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
// need a thousand images' activations at once. Chunking moves pixels by 1/255 at most (README,
// "Reproducibility"; --deterministic: not at all).
constexpr int64_t kImagesPerCall = 8;

// out.png for one image; out-0.png, out-1.png, ... for several.
fs::path output_path(const fs::path& out, size_t index, size_t count) {
  if (count == 1) return out;
  auto name = out.stem().string() + "-" + std::to_string(index) + out.extension().string();
  return out.parent_path() / name;
}

void run_named_files(const Mode& mode, const GenerateOptions& o, const CommonOptions& common) {
  const fs::path out = o.out;
  if (!has_extension(out, ".png") || out.stem().empty())
    throw UsageError("--out must name a .png file, got '" + o.out + "'");
  // The outputs are named after --out inside its folder: out.png (out-0.png, ... for --num), and
  // with --control last the control map the ControlNet saw, out_control.png. --save-latents is
  // taken from that folder too.
  const auto place = [&](PlannedJob& planned) {
    const bool controlled = planned.job.contains("control");  // the job as run (a rerun's included)
    size_t next = 0;
    const auto name_run = [&](const fs::path& base, size_t count) {
      const size_t images = count - (controlled ? 1 : 0);
      for (size_t i = 0; i < count; ++i)
        planned.outputs[next + i].file =
            i < images ? output_path(base, i, images) : fs::path(base.stem().string() + "_control.png");
      next += count;
    };
    // A folder of control pictures: a run per picture, named after it (out_bird.png).
    if (const auto* runs = dynamic_cast<const ControlFolderJob*>(&planned)) {
      for (size_t p = 0; p < runs->parts.size(); ++p)
        name_run(out.stem().string() + "_" + runs->part_names[p] + ".png", runs->parts[p]->outputs.size());
    } else {
      name_run(out.filename(), planned.outputs.size());
    }
    return Placement{out.parent_path(), mode.name};
  };
  SingleJob run{mode, o.job, o.latents_out, o.timings, kImagesPerCall, false, place};
  run_single_job(run, common);
}

}  // namespace

Action add_named_files_command(CLI::App& app, CommonOptions& common, const Mode& mode) {
  auto options = std::make_shared<GenerateOptions>();
  auto* cmd = app.add_subcommand(mode.name, mode.description);
  add_job_options(*cmd, mode.options, options->job);
  cmd->add_option("-o,--out", options->out, "Output PNG (several images: out-0.png, out-1.png, ...)")
      ->type_name("FILE")
      ->capture_default_str();
  cmd->add_option("--save-latents", options->latents_out,
                  "Also write the final latents as a .npy file in --out's folder")
      ->type_name("FILE");
  cmd->add_flag("--timings", options->timings, "Print the model load and generation times (for benchmarks)");
  add_common_options(*cmd, common);
  return [&mode, options, &common] {
    run_named_files(mode, *options, common);
    return 0;
  };
}

}  // namespace vsp::app
