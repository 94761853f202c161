// The generate mode: text to image. Its jobs batch together when they share a size, step count,
// guidance and sampler.
#include <torch/torch.h>

#include <sstream>

#include "vsp/app/control_plan.hpp"
#include "vsp/app/job_result.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/config/modes.hpp"
#include "vsp/config/presets.hpp"
#include "vsp/error.hpp"
#include "vsp/io/image.hpp"
#include "vsp/pipeline/text_to_image.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

class GenerateJob : public PlannedJob {
 public:
  pipeline::TextToImagePlan plan;
  int64_t batch_size = 0;

  JobResult run(const models::Model& model, const pipeline::ProgressFn& progress) const override {
    return run_group({this}, model, progress).front();
  }

  std::string group_key() const override {
    const auto& request = plan.request;
    if (request.control.active() || request.image) return {};  // its map or picture is its own: it runs alone
    std::ostringstream key;
    key << "generate " << request.width << "x" << request.height << " " << request.steps << " " << request.cfg << " "
        << request.sampler << " " << request.timestep_spacing.value_or("");
    return key.str();
  }

  std::vector<JobResult> run_group(const std::vector<const PlannedJob*>& group, const models::Model& model,
                                   const pipeline::ProgressFn& progress) const override {
    std::vector<pipeline::TextToImagePlan> plans;
    for (const auto* job : group) {
      plans.push_back(static_cast<const GenerateJob*>(job)->plan);
      auto& r = plans.back().request;
      r.control = pipeline::with_control_map(std::move(r.control), model, r.width, r.height);
    }
    std::vector<JobResult> results;
    const auto made = pipeline::text_to_image(model, plans, batch_size, progress);
    for (size_t j = 0; j < made.size(); ++j) {
      JobResult result{{}, made[j].latents};
      for (int64_t i = 0; i < made[j].images.size(0); ++i) result.images.push_back(to_image(made[j].images[i]));
      if (plans[j].request.control.active()) result.images.push_back(*plans[j].request.control.map);  // the map it saw
      results.push_back(std::move(result));
    }
    return results;
  }
};

std::string size_text(const std::pair<int, int>& size) {
  return std::to_string(size.first) + "x" + std::to_string(size.second);
}

// The job's request, as given: prepare_text_to_image checks it against the model.
pipeline::TextToImageRequest read_request(const json& job, const PlanContext& context) {
  pipeline::TextToImageRequest r;
  r.prompt = job.value("prompt", "");
  if (job.contains("negative") && !job["negative"].is_null()) r.negative = job["negative"].get<std::string>();
  r.steps = job.value("steps", r.steps);
  r.cfg = job.value("cfg", r.cfg);
  r.seed = job.value("seed", r.seed);
  r.width = job.value("width", context.manifest.default_size);
  r.height = job.value("height", context.manifest.default_size);
  r.sampler = job.value("sampler", r.sampler);
  if (job.contains("timestep_spacing")) r.timestep_spacing = job["timestep_spacing"].get<std::string>();
  r.num = job.value("num", r.num);
  r.vae_tiling = pipeline::parse_vae_tiling(job.value("vae_tiling", "auto"));
  r.prompt_syntax = prompt_syntax(job, {r.prompt, r.negative.value_or("")});
  if (job.contains("image")) {
    const std::filesystem::path given = job["image"].get<std::string>();
    r.image = given.is_absolute() ? given : context.base_folder / given;
    const auto picture_size = io::check_image_file(*r.image);
    r.strength = job.value("strength", r.strength);
    if (job.contains("mask")) {
      const std::filesystem::path mask = job["mask"].get<std::string>();
      r.mask = mask.is_absolute() ? mask : context.base_folder / mask;
      const auto mask_size = io::check_image_file(*r.mask);
      if (picture_size && mask_size && picture_size != mask_size)
        throw UsageError("--mask " + r.mask->string() + " is " + size_text(*mask_size) + " but the picture is " +
                         size_text(*picture_size) + "; give a mask of the picture's size");
    }
  } else {
    for (const char* field : {"strength", "mask"})
      if (job.contains(field)) throw UsageError("--" + std::string(field) + " applies to --image");
  }
  if (job.contains("mask_blur")) r.mask_blur = job["mask_blur"].get<double>();
  r.control = plan_control(job, context);
  return r;
}

}  // namespace

std::unique_ptr<PlannedJob> plan_generate(const json& job, const PlanContext& context) {
  auto planned = std::make_unique<GenerateJob>();
  planned->job = job;
  planned->batch_size = context.deterministic ? 1 : context.batch_size;
  auto request = read_request(with_preset(job, generate_schema().options), context);
  planned->loras = read_loras(job, context, {&request.prompt});
  planned->plan = pipeline::prepare_text_to_image(context.manifest, std::move(request));
  const auto& r = planned->plan.request;

  const std::string stem = context.name + (context.name.empty() ? "" : "_") + "s" + std::to_string(r.seed);
  for (int i = 0; i < r.num; ++i) {
    json image = {{"mode", "generate"},
                  {"prompt", r.prompt},
                  {"steps", r.steps},
                  {"cfg", r.cfg},
                  {"seed", r.seed},
                  {"width", r.width},
                  {"height", r.height},
                  {"sampler", r.sampler},
                  {"num", r.num},
                  {"index", i},
                  {"negative", r.negative ? json(*r.negative) : json(nullptr)},
                  {"job", job}};
    if (r.control.active()) image["control"] = control_metadata(job, r.control);
    if (r.image) {
      image["image"] = job["image"];
      image["strength"] = r.strength;
      if (r.mask) image["mask"] = job["mask"];
      if (r.mask_blur) image["mask_blur"] = *r.mask_blur;
    }
    planned->outputs.push_back({stem + (r.num > 1 ? "_" + std::to_string(i) : "") + ".png", image});
  }
  if (r.control.active()) planned->outputs.push_back({stem + "_control.png", planned->outputs.front().metadata});
  planned->rows = r.num;
  planned->image_pixels = static_cast<int64_t>(r.width) * r.height;
  planned->work = static_cast<int64_t>(r.steps) * r.num;
  return planned;
}

}  // namespace vsp::app
