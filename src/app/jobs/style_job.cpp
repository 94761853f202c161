// The style mode: visual style prompting from a style config or a style image. A job writes a
// folder: reference.png, one NN_<slug>_s<seed>.png per target, grid.png, and attention/NN_xX_yY.png
// (+ .npy) per target and asked-for pixel.
#include <torch/torch.h>

#include <cctype>

#include "vsp/app/control_plan.hpp"
#include "vsp/app/job_result.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/config/selection.hpp"
#include "vsp/config/style_config.hpp"
#include "vsp/config/style_templates.hpp"
#include "vsp/error.hpp"
#include "vsp/pipeline/style.hpp"
#include "vsp/sampling/scheduler.hpp"
#include "vsp/values.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string slug(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c))
      out += static_cast<char>(std::tolower(c));
    else if (!out.empty() && out.back() != '-')
      out += '-';
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "target" : out;
}

fs::path from_base(const PlanContext& context, const std::string& path) {
  return fs::path(path).is_absolute() ? fs::path(path) : context.base_folder / path;
}

// The style of a job: a config from the style folder, or for a style image a style made from the
// file name ("The starry night.png" -> reference prompt "The starry night", targets "{object}").
StyleConfig resolve_style(const json& job, const PlanContext& context) {
  const std::string name = job.value("style", ""), image = job.value("style_image", "");
  if (name.empty() && image.empty())
    throw UsageError("give a style (--style NAME, see vsp styles) or a --style-image FILE");
  const auto folder = job.contains("styles") ? from_base(context, job["styles"]) : default_styles_folder();
  if (image.empty()) {
    auto s = find_style(folder, name);
    // --template: a shipped template on both sides, with its negative.
    if (job.contains("template")) {
      const auto& named = find_template(job["template"].get<std::string>());
      s.reference_template = s.target_template = named.text;
      s.negative = named.negative;
    }
    return s;
  }
  StyleConfig s = name.empty() ? StyleConfig{} : find_style(folder, name);
  const auto stem = fs::path(image).stem().string();
  if (name.empty()) {
    s.name = slug(stem);
    s.description = "style of " + stem;
    s.reference_template = s.target_template = "{object}";
    s.targets = {"a cat"};
  }
  s.reference_object = job.value("style_prompt", stem);
  s.negative.reset();  // the real-image path uses zero negatives
  s.sampler = "ddim";
  if (job.contains("template")) s.target_template = find_template(job["template"].get<std::string>()).text;
  return s;
}

pipeline::StyleRequest build_request(const json& job, const StyleConfig& s, const PlanContext& context) {
  pipeline::StyleRequest r;
  const bool from_image = job.contains("style_image");
  r.reference_prompt =
      from_image ? s.reference_object : s.reference_prompt(job.value("reference_object", s.reference_object));
  r.reference_seed = job.value("reference_seed", s.reference_seed);
  // Targets: "prompt" (used as given), else "object" (put into the template), else the style's.
  std::vector<std::string> prompts = job.value("prompt", std::vector<std::string>{});
  const auto objects = job.value("object", std::vector<std::string>{});
  for (const auto& object : objects.empty() && prompts.empty() ? s.targets : objects)
    prompts.push_back(s.target_prompt(object));
  // One target per prompt or object (a style's own targets have one seed each), unless the job
  // gives a count (--num) or its own seeds.
  std::vector<uint64_t> seeds = job.value("seeds", s.seeds);
  const size_t count = job.contains("num")     ? job["num"].get<size_t>()
                       : job.contains("seeds") ? seeds.size()
                                               : prompts.size();
  // Checked before the lists are built: each target's metadata repeats the whole target list.
  if (count + 1 > static_cast<size_t>(kMaxImagesPerJob))
    throw UsageError(std::to_string(count) + " targets is more than vsp makes in one job (" +
                     std::to_string(kMaxImagesPerJob - 1) +
                     "); lower --num or the seeds, or split the run into a jobs file");
  if (seeds.empty()) seeds.push_back(0);
  if (count > seeds.size() && seeds.back() + (count - seeds.size()) > static_cast<uint64_t>(values::kMaxSeed))
    throw UsageError("the seeds counted on from " + std::to_string(seeds.back()) + " pass " +
                     std::to_string(values::kMaxSeed) + ", the largest seed; start from a lower seed");
  for (size_t i = 0; i < count; ++i) {
    r.target_prompts.push_back(prompts[i % prompts.size()]);
    // Past the given seeds, count on from the last one.
    r.target_seeds.push_back(i < seeds.size() ? seeds[i] : seeds.back() + (i - seeds.size() + 1));
  }
  r.negative = s.negative;
  r.zero_target_negatives = s.zero_target_negatives;
  r.steps = job.value("steps", s.steps);
  r.cfg = job.value("cfg", s.cfg);
  // The style's warm-up shortens with --steps; a warm-up given with the job must fit.
  r.warmup_steps = job.value("warmup_steps", std::min(s.warmup_steps, r.steps));
  r.warmup_cfg = job.value("warmup_cfg", s.warmup_cfg);
  r.sampler = job.value("sampler", s.sampler);
  r.width = job.value("width", context.manifest.default_size);
  r.height = job.value("height", context.manifest.default_size);
  r.layers = job.value("layers", s.layers);
  r.swap_steps = job.value("swap_steps", s.swap_steps);
  r.batch_size = context.deterministic ? 1 : job.value("batch_size", context.batch_size);
  r.reference_trajectory = job.value("reference_trajectory", r.reference_trajectory);
  r.color_calibration = job.value("color_calibration", r.color_calibration);
  for (const auto& pixel : job.value("attention_map", std::vector<std::string>{})) {
    const auto comma = pixel.find(',');
    const auto x = values::parse_decimal_integer(pixel.substr(0, comma), 0, models::kMaxImageSide);
    const auto y = comma == std::string::npos
                       ? std::nullopt
                       : values::parse_decimal_integer(pixel.substr(comma + 1), 0, models::kMaxImageSide);
    if (!x || !y) throw UsageError("--attention-map takes a pixel as X,Y (e.g. 512,300), got '" + pixel + "'");
    r.attention_pixels.emplace_back(static_cast<int>(*x), static_cast<int>(*y));
  }
  // Options that only refine another one: without it they would do nothing.
  for (const char* key : {"attention_step", "attention_layers"})
    if (job.contains(key) && !job.contains("attention_map"))
      throw UsageError(std::string(key) == "attention_step" ? "--attention-step needs --attention-map X,Y"
                                                            : "--attention-layers needs --attention-map X,Y");
  if (job.contains("shared_adain") && !job.value("shared_attention", false))
    throw UsageError(std::string("--") + (job["shared_adain"].get<bool>() ? "" : "no-") +
                     "shared-adain needs --shared-attention");
  r.attention_step = job.value("attention_step", -1);
  r.attention_layers = job.value("attention_layers", std::vector<std::string>{});
  r.control = plan_control(job, context);
  r.shared_attention = job.value("shared_attention", s.shared_attention);
  r.shared_adain = job.value("shared_adain", s.shared_adain);
  r.vae_tiling = pipeline::parse_vae_tiling(job.value("vae_tiling", "auto"));
  std::vector<std::string> all_prompts{r.reference_prompt, r.negative.value_or("")};
  all_prompts.insert(all_prompts.end(), r.target_prompts.begin(), r.target_prompts.end());
  r.prompt_syntax = prompt_syntax(job, all_prompts);
  return r;
}

class StyleJob : public PlannedJob {
 public:
  pipeline::StylePlan plan;
  std::vector<fs::path> map_files;  // attention/NN_xX_yY.png, target-major

  JobResult run(const models::Model& model, const pipeline::ProgressFn& progress) const override {
    const auto& request = plan.request;
    auto controlled = plan;
    controlled.request.control =
        pipeline::with_control_map(std::move(controlled.request.control), model, request.width, request.height);
    const auto made = pipeline::visual_style_prompting(model, controlled, progress);
    JobResult result{{}, made.latents};
    for (int64_t row = 0; row < made.images.size(0); ++row) result.images.push_back(to_image(made.images[row]));
    result.images.push_back(io::make_grid(result.images, static_cast<int>(result.images.size()), 4));
    if (controlled.request.control.active())
      result.images.push_back(*controlled.request.control.map);  // the map the targets saw
    // Attention maps: over the reference image, one per target and pixel, in the planned order.
    for (size_t i = 0; i < map_files.size(); ++i) {
      const auto map = made.attention_maps[static_cast<int64_t>(i / request.attention_pixels.size())]
                                          [static_cast<int64_t>(i % request.attention_pixels.size())]
                                              .contiguous();
      result.images.push_back(io::overlay_heatmap(result.images.front(), map.data_ptr<float>(),
                                                  static_cast<int>(map.size(1)), static_cast<int>(map.size(0))));
      result.arrays.emplace_back(arrays[i].file, map);
    }
    return result;
  }
};

}  // namespace

std::unique_ptr<PlannedJob> plan_style(const json& job, const PlanContext& context) {
  const auto style = resolve_style(job, context);
  auto planned = std::make_unique<StyleJob>();
  planned->job = job;
  auto request = build_request(job, style, context);
  if (job.contains("style_image")) {
    request.style_image = from_base(context, job["style_image"]);
    io::check_image_file(*request.style_image);
  }
  if (job.contains("image")) {
    request.target_image = from_base(context, job["image"]);
    io::check_image_file(*request.target_image);
    request.strength = job.value("strength", request.strength);
  } else if (job.contains("strength")) {
    throw UsageError("--strength applies to --image");
  }
  std::vector<std::string*> targets;
  for (auto& prompt : request.target_prompts) targets.push_back(&prompt);
  planned->loras = read_loras(job, context, targets);
  planned->plan = pipeline::prepare_style(context.manifest, std::move(request));
  const auto& r = planned->plan.request;

  json shared = {{"mode", "style"},
                 {"style", style.name},
                 {"reference_prompt", r.reference_prompt},
                 {"reference_seed", r.reference_seed},
                 {"steps", r.steps},
                 {"cfg", r.cfg},
                 {"warmup", {{"steps", r.warmup_steps}, {"cfg", r.warmup_cfg}}},
                 {"sampler", r.sampler},
                 {"width", r.width},
                 {"height", r.height},
                 {"layers", r.layers},
                 {"swap_steps", r.swap_steps},
                 {"targets", r.target_prompts},
                 {"seeds", r.target_seeds},
                 {"negative", r.negative ? json(*r.negative) : json(nullptr)},
                 {"zero_target_negatives", r.zero_target_negatives},
                 {"job", job}};
  // The images do not depend on the attention-map options: their metadata leaves them out, so that
  // asking for maps writes the same files (and --resume keeps them).
  for (const char* key : {"attention_map", "attention_step", "attention_layers"}) shared["job"].erase(key);
  // Only when on, so that the metadata of runs without it (and --resume) stay as they were.
  if (r.shared_attention) shared["shared_attention"] = {{"adain", r.shared_adain}};
  if (r.control.active()) shared["control"] = control_metadata(job, r.control);
  if (r.style_image) {
    shared["style_image"] = job["style_image"];
    shared["reference_trajectory"] = r.reference_trajectory;
    shared["color_calibration"] = r.color_calibration;
  }
  const fs::path folder = context.name;
  auto reference = shared;
  reference["prompt"] = r.reference_prompt;
  reference["seed"] = r.reference_seed;
  planned->outputs.push_back({folder / "reference.png", reference});
  for (size_t i = 0; i < r.target_prompts.size(); ++i) {
    auto target = shared;
    target["prompt"] = r.target_prompts[i];
    target["seed"] = r.target_seeds[i];
    target["index"] = i;
    if (r.target_image) {  // the targets' start, not the reference's
      target["image"] = job["image"];
      target["strength"] = r.strength;
    }
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%02zu", i);
    const auto name = std::string(prefix) + "_" + slug(r.target_prompts[i]) + "_s" + std::to_string(r.target_seeds[i]);
    planned->outputs.push_back({folder / (name + ".png"), target});
  }
  planned->outputs.push_back({folder / "grid.png", shared});
  if (r.control.active()) planned->outputs.push_back({folder / "control.png", shared});
  if (planned->plan.maps) {
    const auto& maps = *planned->plan.maps;
    for (size_t i = 0; i < r.target_prompts.size(); ++i) {
      for (const auto& [x, y] : r.attention_pixels) {
        auto metadata = shared;
        metadata["job"] = job;
        metadata["attention_map"] = {{"target", i}, {"x", x}, {"y", y}, {"step", maps.step}};
        char name[64];
        std::snprintf(name, sizeof name, "%02zu_x%d_y%d.png", i, x, y);
        planned->map_files.push_back(folder / "attention" / name);
        planned->outputs.push_back({planned->map_files.back(), metadata});
        planned->arrays.push_back({fs::path(planned->map_files.back()).replace_extension(".npy"), "--attention-map"});
      }
    }
  }
  planned->rows = static_cast<int64_t>(r.target_prompts.size()) + 1;
  planned->work = r.steps * planned->rows;
  planned->image_pixels = static_cast<int64_t>(r.width) * r.height;
  return planned;
}

}  // namespace vsp::app
