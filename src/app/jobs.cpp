#include "vsp/app/jobs.hpp"

#include <ATen/core/Tensor.h>

#include "vsp/app/metadata.hpp"
#include "vsp/error.hpp"
#include "vsp/models/manifest.hpp"

namespace vsp::app {

std::vector<JobResult> PlannedJob::run_group(const std::vector<const PlannedJob*>& group, const models::Model& model,
                                             const pipeline::ProgressFn& progress) const {
  std::vector<JobResult> results;
  for (const auto* job : group) results.push_back(job->run(model, progress));
  return results;
}

io::Image to_image(const at::Tensor& pixels) {
  return {static_cast<int>(pixels.size(1)), static_cast<int>(pixels.size(0)), 3,
          std::vector<uint8_t>(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel())};
}

const std::vector<const Mode*>& all_modes() {
  static const std::vector<const Mode*> modes = {&generate_mode(), &style_mode()};
  return modes;
}

const Mode& find_mode(const std::string& name, const std::string& where) {
  const ModeSchema& schema = find_mode_schema(name, where);
  for (const auto* mode : all_modes())
    if (mode->name == schema.name) return *mode;
  throw std::logic_error("mode \"" + schema.name + "\" has a schema but no planner");
}

std::vector<std::filesystem::path> write_outputs(const PlannedJob& job, const JobResult& result,
                                                 const std::filesystem::path& folder,
                                                 const models::Manifest& manifest) {
  std::vector<std::filesystem::path> written;
  for (size_t i = 0; i < job.outputs.size(); ++i) {
    const auto path = folder / job.outputs[i].file;
    std::filesystem::create_directories(path.parent_path());
    io::write_png(path, result.images.at(i), image_metadata(job.outputs[i].metadata, manifest));
    written.push_back(path);
  }
  return written;
}

bool outputs_up_to_date(const PlannedJob& job, const std::filesystem::path& folder, const models::Manifest& manifest) {
  for (const auto& output : job.outputs) {
    const auto path = folder / output.file;
    if (!std::filesystem::is_regular_file(path)) return false;
    try {
      const auto text = io::read_png_text(path);
      const auto found = text.find("vsp");
      if (found == text.end() || found->second != image_metadata(output.metadata, manifest).at("vsp")) return false;
    } catch (const Error&) {
      return false;  // unreadable: make it again
    }
  }
  return true;
}

}  // namespace vsp::app
