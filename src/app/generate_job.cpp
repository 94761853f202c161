// The generate mode: text to image. Its jobs batch together when they share a size, step count,
// guidance and sampler.
#include <torch/torch.h>

#include <sstream>

#include "vsp/app/control_plan.hpp"
#include "vsp/app/job_result.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/error.hpp"
#include "vsp/models/manifest.hpp"
#include "vsp/pipeline/text_to_image.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

class GenerateJob : public PlannedJob {
 public:
  pipeline::TextToImageRequest request;
  int64_t batch_size = 0;

  JobResult run(const models::Model& model, const pipeline::ProgressFn& progress) const override {
    return run_group({this}, model, progress).front();
  }

  std::string group_key() const override {
    if (request.control.active()) return {};  // its control map is its own: it runs alone
    std::ostringstream key;
    key << "generate " << request.width << "x" << request.height << " " << request.steps << " " << request.cfg << " "
        << request.sampler;
    return key.str();
  }

  std::vector<JobResult> run_group(const std::vector<const PlannedJob*>& group, const models::Model& model,
                                   const pipeline::ProgressFn& progress) const override {
    std::vector<pipeline::TextToImageRequest> requests;
    for (const auto* job : group) {
      requests.push_back(static_cast<const GenerateJob*>(job)->request);
      auto& r = requests.back();
      r.control = pipeline::with_depth_map(std::move(r.control), model, r.width, r.height);
    }
    std::vector<JobResult> results;
    const auto made = pipeline::text_to_image(model, requests, batch_size, progress);
    for (size_t j = 0; j < made.size(); ++j) {
      JobResult result{{}, made[j].latents};
      for (int64_t i = 0; i < made[j].images.size(0); ++i) result.images.push_back(to_image(made[j].images[i]));
      if (requests[j].control.active()) result.images.push_back(*requests[j].control.map);  // the map it saw
      results.push_back(std::move(result));
    }
    return results;
  }
};

}  // namespace

std::unique_ptr<PlannedJob> plan_generate(const json& job, const PlanContext& context) {
  auto planned = std::make_unique<GenerateJob>();
  planned->job = job;
  planned->batch_size = context.deterministic ? 1 : context.batch_size;
  auto& r = planned->request;
  r.prompt = job.value("prompt", "");
  if (job.contains("negative") && !job["negative"].is_null()) r.negative = job["negative"].get<std::string>();
  r.steps = job.value("steps", r.steps);
  r.cfg = job.value("cfg", r.cfg);
  r.seed = job.value("seed", r.seed);
  r.width = job.value("width", context.manifest.default_size);
  r.height = job.value("height", context.manifest.default_size);
  r.sampler = job.value("sampler", r.sampler);
  r.num = job.value("num", r.num);
  r.vae_tiling = pipeline::parse_vae_tiling(job.value("vae_tiling", "auto"));
  context.manifest.check_size(r.width, r.height);
  context.manifest.check_steps(r.steps);
  r.control = plan_control(job, context, r.width, r.height);
  sampling::ScheduleConfig::from_json(context.manifest.scheduler);  // a bad scheduler config, before compute

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
    planned->outputs.push_back({stem + (r.num > 1 ? "_" + std::to_string(i) : "") + ".png", image});
  }
  if (r.control.active()) planned->outputs.push_back({stem + "_control.png", planned->outputs.front().metadata});
  planned->rows = r.num;
  planned->image_pixels = static_cast<int64_t>(r.width) * r.height;
  planned->work = static_cast<int64_t>(r.steps) * r.num;
  return planned;
}

}  // namespace vsp::app
