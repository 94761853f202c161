// --control-image DIR: one run per picture in the folder, named after it.
#include <torch/torch.h>

#include <set>

#include "vsp/app/job_result.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/config/paths.hpp"
#include "vsp/error.hpp"

namespace vsp::app {

namespace fs = std::filesystem;

JobResult ControlFolderJob::run(const models::Model& model, const pipeline::ProgressFn& progress) const {
  JobResult all;
  std::vector<at::Tensor> latents;
  for (size_t p = 0; p < parts.size(); ++p) {
    // Every part has the same settings, hence the same step count: the bar runs once over all.
    const auto part_progress = [&](const pipeline::ProgressEvent& event) {
      if (progress)
        progress({event.phase, static_cast<int>(p) * event.total + event.done,
                  static_cast<int>(parts.size()) * event.total, event.detail});
    };
    auto result = parts[p]->run(model, part_progress);
    for (auto& image : result.images) all.images.push_back(std::move(image));
    for (auto& array : result.arrays) all.arrays.push_back(std::move(array));
    if (result.latents.defined()) latents.push_back(result.latents);
  }
  if (!latents.empty()) all.latents = torch::cat(latents);
  return all;
}

Planner over_control_folders(Planner plan) {
  return [plan](const nlohmann::json& job, const PlanContext& context) -> std::unique_ptr<PlannedJob> {
    if (!job.contains("control_image") || !job["control_image"].is_string()) return plan(job, context);
    const fs::path given = job["control_image"].get<std::string>();
    const auto folder = given.is_absolute() ? given : context.base_folder / given;
    if (!is_folder(folder)) return plan(job, context);
    auto whole = std::make_unique<ControlFolderJob>();
    whole->job = job;
    std::set<std::string> names;
    for (const auto& picture : io::list_images(folder)) {
      const auto name = picture.stem().string();
      if (!names.insert(name).second)
        throw Error("--control-image folder " + folder.string() + " has two pictures named " + name +
                    " (outputs are named after them); rename one");
      auto part_job = job;
      part_job["control_image"] = (given / picture.filename()).generic_string();
      // The run's name: the picture's on the command line, "<job>_<picture>" in a jobs file.
      const PlanContext part_context{context.manifest, context.name.empty() ? name : context.name + "_" + name,
                                     context.base_folder, context.batch_size, context.deterministic};
      auto part = plan(part_job, part_context);
      whole->outputs.insert(whole->outputs.end(), part->outputs.begin(), part->outputs.end());
      whole->rows += part->rows;  // every image stays in memory until the job ends
      whole->work += part->work;
      whole->image_pixels = part->image_pixels;
      whole->loras = part->loras;
      whole->parts.push_back(std::move(part));
      whole->part_names.push_back(name);
    }
    return whole;
  };
}

}  // namespace vsp::app
