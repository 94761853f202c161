// `vsp generate`: text to image.
#include <torch/torch.h>

#include <chrono>

#include "vsp/app/commands.hpp"
#include "vsp/app/metadata.hpp"
#include "vsp/app/progress.hpp"
#include "vsp/error.hpp"
#include "vsp/io/image.hpp"
#include "vsp/io/log.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/text_to_image.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::app {
namespace {

struct GenerateOptions {
  pipeline::TextToImageRequest request;
  std::string negative;
  std::string out = "out.png";
  std::string latents_out;
  bool timings = false;
};

// out.png for one image; out-0.png, out-1.png, ... for several.
std::filesystem::path output_path(const std::filesystem::path& out, int index, int count) {
  if (count == 1) return out;
  auto name = out.stem().string() + "-" + std::to_string(index) + out.extension().string();
  return out.parent_path() / name;
}

void check_sampler(const std::string& sampler) {
  const auto& names = sampling::scheduler_names();
  if (std::find(names.begin(), names.end(), sampler) != names.end()) return;
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw Error("unknown sampler '" + sampler + "'; choose one of: " + list);
}

void run_generate(GenerateOptions& o, const CLI::App& command, const CommonOptions& common) {
  auto& r = o.request;
  if (command.count("--negative") > 0) r.negative = o.negative;
  check_sampler(r.sampler);
  const std::filesystem::path out = o.out;
  if (out.extension() != ".png") throw Error("--out must name a .png file, got '" + o.out + "'");
  for (int i = 0; i < r.num; ++i) io::ensure_writable(output_path(out, i, r.num));
  if (!o.latents_out.empty()) io::ensure_writable(o.latents_out);

  const auto load_started = std::chrono::steady_clock::now();
  const auto model = models::Model::load(common.model, common.device);
  const auto loaded = std::chrono::steady_clock::now();
  if (command.count("--width") == 0) r.width = model->manifest.default_size;
  if (command.count("--height") == 0) r.height = model->manifest.default_size;

  Progress progress("generate", common.quiet);
  const auto result = pipeline::text_to_image(*model, r, [&](int done, int total) { progress.update(done, total); });
  if (o.timings) print_timings(load_started, loaded, std::chrono::steady_clock::now());

  for (int i = 0; i < r.num; ++i) {
    const auto pixels = result.images[i];
    io::Image image{r.width, r.height, 3,
                    std::vector<uint8_t>(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel())};
    nlohmann::json job = {{"mode", "generate"}, {"prompt", r.prompt}, {"steps", r.steps}, {"cfg", r.cfg},
                          {"seed", r.seed}, {"width", r.width}, {"height", r.height}, {"sampler", r.sampler},
                          {"num", r.num}, {"index", i}};
    job["negative"] = r.negative ? nlohmann::json(*r.negative) : nlohmann::json(nullptr);
    const auto path = output_path(out, i, r.num);
    io::write_png(path, image, image_metadata(job, model->manifest));
    log::info("wrote " + path.string());
  }
  if (!o.latents_out.empty()) {
    const auto latents = result.latents.contiguous();
    io::write_npy(o.latents_out, latents.sizes().vec(), latents.data_ptr<float>());
  }
}

}  // namespace

Action add_generate_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<GenerateOptions>();
  auto* cmd = app.add_subcommand("generate", "Text to image with SDXL");
  auto& r = options->request;
  cmd->add_option("-p,--prompt", r.prompt, "What to draw (an empty prompt is valid)");
  cmd->add_option("-n,--negative", options->negative,
                  "Negative prompt. Absent: zero negative embeddings (SDXL's default); \"\" is encoded as text");
  cmd->add_option("--steps", r.steps, "Denoising steps")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--cfg", r.cfg, "Classifier-free guidance scale (<= 1 turns guidance off)")->capture_default_str();
  cmd->add_option("-s,--seed", r.seed, "Seed of the initial noise (CPU generator: same image on every device)")
      ->capture_default_str();
  cmd->add_option("-W,--width", r.width, "Image width in pixels (default: the model's size)");
  cmd->add_option("-H,--height", r.height, "Image height in pixels (default: the model's size)");
  cmd->add_option("--sampler", r.sampler, "euler | ddim | dpmpp2m")->capture_default_str();
  cmd->add_option("--num", r.num, "Images to make in one batch (out-0.png, out-1.png, ...)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("-o,--out", options->out, "Output PNG")->capture_default_str();
  cmd->add_option("--save-latents", options->latents_out, "Also write the final latents as a .npy file");
  cmd->add_flag("--timings", options->timings, "Print the model load and generation times (for benchmarks)");
  add_common_options(*cmd, common);
  return [options, cmd, &common] { run_generate(*options, *cmd, common); };
}

}  // namespace vsp::app
