#include "vsp/app/metadata.hpp"

#include <sstream>
#include <string>
#include <vector>

#include "vsp/config/manifest.hpp"

namespace vsp::app {

std::string vsp_version() { return VSP_VERSION; }

std::string sampler_display_name(const std::string& sampler) {
  if (sampler == "euler") return "Euler";
  if (sampler == "ddim") return "DDIM";
  if (sampler == "dpmpp2m") return "DPM++ 2M";
  return sampler;
}

io::TextChunks image_metadata(nlohmann::json job, const models::Manifest& manifest) {
  // The job as given repeats most of what the resolved fields say, a long prompt included: it keeps
  // only the fields that differ from the top-level field of the same name, so each text is stored once.
  if (job.contains("job") && job["job"].is_object()) {
    nlohmann::json& given = job["job"];
    std::vector<std::string> repeated;
    for (const auto& field : given.items())
      if (job.contains(field.key()) && job[field.key()] == field.value()) repeated.push_back(field.key());
    for (const std::string& key : repeated) given.erase(key);
  }
  job["model"] = manifest.folder.string();
  job["model_hash"] = manifest.hash;
  job["vsp_version"] = vsp_version();
  std::ostringstream parameters;
  parameters << job.value("prompt", "") << "\n";
  if (job.contains("negative") && !job["negative"].is_null())
    parameters << "Negative prompt: " << job["negative"].get<std::string>() << "\n";
  parameters << "Steps: " << job.value("steps", 0) << ", Sampler: " << sampler_display_name(job.value("sampler", ""))
             << ", CFG scale: " << job.value("cfg", 0.0) << ", Seed: " << job.value("seed", uint64_t{0})
             << ", Size: " << job.value("width", 0) << "x" << job.value("height", 0)
             << ", Model hash: " << manifest.hash << ", Model: " << manifest.folder.filename().string()
             << ", Version: vsp " << vsp_version();
  return {{"parameters", parameters.str()}, {"vsp", job.dump()}};
}

}  // namespace vsp::app
