// Visual style prompting from the command line: `vsp --style fire`, `vsp style ...`,
// `vsp --style-image "The starry night.png" --object cat`, and `vsp styles`.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <sstream>

#include "vsp/app/commands.hpp"
#include "vsp/app/metadata.hpp"
#include "vsp/app/progress.hpp"
#include "vsp/app/style_config.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/style.hpp"

namespace vsp::app {
namespace {

struct StyleOptions {
  std::string style;
  std::string style_image;
  std::string style_prompt;
  std::string styles_folder;
  std::vector<std::string> objects;
  std::vector<std::string> prompts;
  std::vector<uint64_t> seeds;
  int num = 0;
  std::string layers;
  std::string swap_steps;
  int steps = 0;
  double cfg = 0;
  int warmup_steps = -1;
  double warmup_cfg = 0;
  std::string sampler;
  std::string reference_object;
  int64_t reference_seed = -1;
  int64_t batch_size = 0;
  int width = 0;
  int height = 0;
  std::string reference_trajectory = "noise";
  bool no_color_calibration = false;
  bool timings = false;
  std::string out;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

std::string slug(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
    else if (!out.empty() && out.back() != '-') out += '-';
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "target" : out;
}

// The style of a run: a config from the style folder, or for --style-image a style made from the
// file name ("The starry night.png" -> reference prompt "The starry night", targets "{object}").
StyleConfig resolve_style(const StyleOptions& o) {
  const auto folder = o.styles_folder.empty() ? default_styles_folder() : std::filesystem::path(o.styles_folder);
  if (o.style_image.empty()) return find_style(folder, o.style);
  StyleConfig s = o.style.empty() ? StyleConfig{} : find_style(folder, o.style);
  const auto stem = std::filesystem::path(o.style_image).stem().string();
  if (o.style.empty()) {
    s.name = slug(stem);
    s.description = "style of " + stem;
    s.style_template = "{object}";
    s.targets = {"a cat"};
  }
  s.reference_object = o.style_prompt.empty() ? stem : o.style_prompt;
  s.negative.reset();  // the real-image path uses zero negatives
  s.sampler = "ddim";
  return s;
}

pipeline::StyleRequest build_request(const StyleOptions& o, const StyleConfig& s, const models::Model& model) {
  pipeline::StyleRequest r;
  r.reference_prompt = o.style_image.empty() ? s.prompt_for(o.reference_object.empty() ? s.reference_object
                                                                                      : o.reference_object)
                                             : s.reference_object;
  r.reference_seed = o.reference_seed >= 0 ? static_cast<uint64_t>(o.reference_seed) : s.reference_seed;
  // Targets: --prompt (used as given), else --object (wrapped in the template), else the style's.
  std::vector<std::string> prompts = o.prompts;
  for (const auto& object : o.objects.empty() && o.prompts.empty() ? s.targets : o.objects)
    prompts.push_back(s.prompt_for(object));
  const size_t count = o.num > 0 ? static_cast<size_t>(o.num) : (o.seeds.empty() ? prompts.size() : o.seeds.size());
  std::vector<uint64_t> seeds = o.seeds.empty() ? s.seeds : o.seeds;
  if (seeds.empty()) seeds.push_back(0);
  for (size_t i = 0; i < count; ++i) {
    r.target_prompts.push_back(prompts[i % prompts.size()]);
    // Past the given seeds, count on from the last one.
    r.target_seeds.push_back(i < seeds.size() ? seeds[i] : seeds.back() + (i - seeds.size() + 1));
  }
  r.negative = s.negative;
  r.zero_target_negatives = s.zero_target_negatives;
  r.steps = o.steps > 0 ? o.steps : s.steps;
  r.cfg = o.cfg > 0 ? o.cfg : s.cfg;
  r.warmup_steps = o.warmup_steps >= 0 ? o.warmup_steps : s.warmup_steps;
  r.warmup_cfg = o.warmup_steps >= 0 ? o.warmup_cfg : s.warmup_cfg;
  r.sampler = o.sampler.empty() ? s.sampler : o.sampler;
  r.width = o.width > 0 ? o.width : model.manifest.default_size;
  r.height = o.height > 0 ? o.height : model.manifest.default_size;
  r.layers = o.layers.empty() ? s.layers : split_list(o.layers);
  r.swap_steps = o.swap_steps.empty() ? s.swap_steps : o.swap_steps;
  r.batch_size = o.batch_size;
  r.reference_trajectory = o.reference_trajectory;
  r.color_calibration = !o.no_color_calibration;
  return r;
}

io::Image to_image(const at::Tensor& pixels) {
  return {static_cast<int>(pixels.size(1)), static_cast<int>(pixels.size(0)), 3,
          std::vector<uint8_t>(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel())};
}

void run_style(const StyleOptions& o, const CommonOptions& common) {
  if (o.style.empty() && o.style_image.empty()) throw Error("give --style NAME (see vsp styles) or --style-image FILE");
  const auto style = resolve_style(o);
  std::optional<io::Image> style_image;
  if (!o.style_image.empty()) style_image = io::read_image(o.style_image);
  const auto out = o.out.empty() ? std::filesystem::path("out") / style.name : std::filesystem::path(o.out);
  // Check now, create late: a run that fails leaves no folder behind.
  auto existing = out;
  while (!existing.empty() && !std::filesystem::exists(existing)) existing = existing.parent_path();
  io::ensure_writable((existing.empty() ? std::filesystem::path(".") : existing) / "grid.png");

  const auto load_started = std::chrono::steady_clock::now();
  const auto model = models::Model::load(common.model, common.device);
  const auto loaded = std::chrono::steady_clock::now();
  auto request = build_request(o, style, *model);
  request.style_image = style_image;
  Progress progress("style " + style.name, common.quiet);
  const auto result =
      pipeline::visual_style_prompting(*model, request, [&](int done, int total) { progress.update(done, total); });
  if (o.timings) print_timings(load_started, loaded, std::chrono::steady_clock::now());

  nlohmann::json job = {{"mode", "style"}, {"style", style.name}, {"reference_prompt", request.reference_prompt},
                        {"reference_seed", request.reference_seed}, {"steps", request.steps}, {"cfg", request.cfg},
                        {"warmup", {{"steps", request.warmup_steps}, {"cfg", request.warmup_cfg}}},
                        {"sampler", request.sampler}, {"width", request.width}, {"height", request.height},
                        {"layers", request.layers}, {"swap_steps", request.swap_steps},
                        {"targets", request.target_prompts}, {"seeds", request.target_seeds},
                        {"negative", request.negative ? nlohmann::json(*request.negative) : nlohmann::json(nullptr)},
                        {"zero_target_negatives", request.zero_target_negatives}};
  if (style_image) {
    job["style_image"] = o.style_image;
    job["reference_trajectory"] = request.reference_trajectory;
    job["color_calibration"] = request.color_calibration;
  }
  std::filesystem::create_directories(out);
  std::vector<io::Image> images;
  for (int64_t row = 0; row < result.images.size(0); ++row) images.push_back(to_image(result.images[row]));
  for (size_t row = 0; row < images.size(); ++row) {
    auto image_job = job;
    std::string name = "reference.png";
    if (row == 0) {
      image_job["prompt"] = request.reference_prompt;
      image_job["seed"] = request.reference_seed;
    } else {
      image_job["prompt"] = request.target_prompts[row - 1];
      image_job["seed"] = request.target_seeds[row - 1];
      image_job["index"] = row - 1;
      char prefix[16];
      std::snprintf(prefix, sizeof prefix, "%02zu", row - 1);
      name = std::string(prefix) + "_" + slug(request.target_prompts[row - 1]) + "_s" +
             std::to_string(request.target_seeds[row - 1]) + ".png";
    }
    io::write_png(out / name, images[row], image_metadata(image_job, model->manifest));
  }
  io::write_png(out / "grid.png", io::make_grid(images, static_cast<int>(images.size()), 4),
                image_metadata(job, model->manifest));
  log::info("wrote " + std::to_string(images.size()) + " images and grid.png to " + out.string());
}

void add_style_options(CLI::App& app, StyleOptions& o) {
  app.add_option("--style", o.style, "Style name (configs/styles/<name>.json; vsp styles lists them)");
  app.add_option("--style-image", o.style_image, "Take the style from this picture (PNG or JPEG) instead");
  app.add_option("--style-prompt", o.style_prompt, "With --style-image: what the picture shows (default: its file name)");
  app.add_option("--object", o.objects, "Target object, put into the style's template (repeatable)");
  app.add_option("-p,--prompt", o.prompts, "Target prompt used as given (repeatable)");
  app.add_option("--num", o.num, "Number of targets (repeating the objects, seeds counting on)");
  app.add_option("--seeds", o.seeds, "Target seeds, e.g. --seeds 1,2,3")->delimiter(',');
  app.add_option("--layers", o.layers, "Swap layers: modules (up_blocks.1,up_blocks.0.attentions.2) or self[-6:]");
  app.add_option("--swap-steps", o.swap_steps, "Steps that swap: all, 0-9,20-29 or 0.0-0.5");
  app.add_option("--steps", o.steps, "Denoising steps (default: the style's)");
  app.add_option("--cfg", o.cfg, "Guidance scale (default: the style's)");
  app.add_option("--warmup-steps", o.warmup_steps, "Steps at --warmup-cfg before --cfg (default: the style's)");
  app.add_option("--warmup-cfg", o.warmup_cfg, "Guidance during the warm-up steps");
  app.add_option("--sampler", o.sampler, "euler | ddim | dpmpp2m (default: the style's; ddim for --style-image)");
  app.add_option("--reference-object", o.reference_object, "Object of the reference image (default: the style's)");
  app.add_option("--reference-seed", o.reference_seed, "Seed of the reference (default: the style's)");
  app.add_option("--batch-size", o.batch_size, "Targets per UNet call when memory is short (0: all)");
  app.add_option("-W,--width", o.width, "Width in pixels (default: the model's size)");
  app.add_option("-H,--height", o.height, "Height in pixels (default: the model's size)");
  app.add_option("--reference-trajectory", o.reference_trajectory, "With --style-image: noise | inversion")
      ->capture_default_str();
  app.add_flag("--no-color-calibration", o.no_color_calibration, "With --style-image: keep the targets' own colours");
  app.add_flag("--timings", o.timings, "Print the model load and generation times (for benchmarks)");
  app.add_option("--styles", o.styles_folder, "Style folder (default: configs/styles, or $VSP_STYLES)");
  app.add_option("-o,--out", o.out, "Output folder (default: out/<style>)");
}

}  // namespace

Action add_style_mode(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<StyleOptions>();
  add_style_options(app, *options);
  return [options, &common] { run_style(*options, common); };
}

Action add_style_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<StyleOptions>();
  auto* cmd = app.add_subcommand("style", "Visual style prompting (the same as vsp --style ...)");
  add_style_options(*cmd, *options);
  add_common_options(*cmd, common);
  return [options, &common] { run_style(*options, common); };
}

Action add_styles_command(CLI::App& app, CommonOptions&) {
  auto folder = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("styles", "List the styles with their descriptions");
  cmd->add_option("--styles", *folder, "Style folder (default: configs/styles, or $VSP_STYLES)");
  return [folder] {
    const auto styles = load_all_styles(folder->empty() ? default_styles_folder() : std::filesystem::path(*folder));
    size_t width = 0;
    for (const auto& s : styles) width = std::max(width, s.name.size());
    for (const auto& s : styles) std::printf("%-*s  %s\n", static_cast<int>(width), s.name.c_str(), s.description.c_str());
  };
}

}  // namespace vsp::app
