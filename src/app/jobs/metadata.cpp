#include "vsp/app/metadata.hpp"

#include <filesystem>
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
  if (sampler == "dpmpp2m-karras") return "DPM++ 2M Karras";
  if (sampler == "euler-karras") return "Euler Karras";
  if (sampler == "euler-a") return "Euler a";
  if (sampler == "lcm") return "LCM";
  return sampler;
}

namespace {

// The export folder's own name ("sdxl" for models/sdxl/), never its path.
std::string folder_name(const models::Manifest& manifest) {
  auto folder = std::filesystem::absolute(manifest.folder).lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();
  return folder.filename().string();
}

// A1111's "Model hash" is the checkpoint's sha256 (first 10 hex digits), which model sites look
// up; an export from a folder or hub id has no checkpoint file, so the export's own hash stands in.
std::string a1111_model_hash(const models::Manifest& manifest) {
  return manifest.source_hash.empty() ? manifest.hash : manifest.source_hash;
}

// A1111's "Model" is the checkpoint's name without its extension; an export from a folder or
// hub id goes by its own folder's name.
std::string a1111_model_name(const models::Manifest& manifest) {
  const std::filesystem::path source(manifest.source);
  if (source.extension() == ".safetensors" || source.extension() == ".ckpt") return source.stem().string();
  return folder_name(manifest);
}

}  // namespace

io::TextChunks image_metadata(nlohmann::json job, const models::Manifest& manifest) {
  // The job as given repeats most of what the resolved fields say, a long prompt included: it keeps
  // only the fields that differ from the top-level field of the same name, so each text is stored
  // once, and "given_as_resolved" names the others, so that `vsp rerun` can put the job back together.
  if (job.contains("job") && job["job"].is_object()) {
    nlohmann::json& given = job["job"];
    std::vector<std::string> repeated;
    for (const auto& field : given.items())
      if (job.contains(field.key()) && job[field.key()] == field.value()) repeated.push_back(field.key());
    for (const std::string& key : repeated) given.erase(key);
    job["given_as_resolved"] = repeated;
  }
  // The export's folder name, never its path (the user's directory layout stays private).
  job["model"] = folder_name(manifest);
  job["model_hash"] = manifest.hash;
  if (!manifest.source.empty()) job["model_source"] = manifest.source;
  job["vsp_version"] = vsp_version();
  std::ostringstream parameters;
  parameters << job.value("prompt", "") << "\n";
  if (job.contains("negative") && !job["negative"].is_null())
    parameters << "Negative prompt: " << job["negative"].get<std::string>() << "\n";
  parameters << "Steps: " << job.value("steps", 0) << ", Sampler: " << sampler_display_name(job.value("sampler", ""))
             << ", CFG scale: " << job.value("cfg", 0.0) << ", Seed: " << job.value("seed", uint64_t{0})
             << ", Size: " << job.value("width", 0) << "x" << job.value("height", 0);
  if (job.contains("strength")) parameters << ", Denoising strength: " << job["strength"].get<double>();
  if (job.contains("mask_blur")) parameters << ", Mask blur: " << job["mask_blur"].get<double>();
  parameters << ", Model hash: " << a1111_model_hash(manifest) << ", Model: " << a1111_model_name(manifest)
             << ", Version: vsp " << vsp_version();
  return {{"parameters", parameters.str()}, {"vsp", job.dump()}};
}

}  // namespace vsp::app
