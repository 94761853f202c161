#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "vsp/io/image.hpp"

namespace vsp::models {
struct Manifest;
}

namespace vsp::app {

std::string vsp_version();
// A1111 / stable-diffusion.cpp's display name of a sampler ("Euler", "DDIM", "DPM++ 2M", "DPM++ 2M Karras").
std::string sampler_display_name(const std::string& sampler);
// The PNG text chunks of one output image: "parameters" in the A1111 style, built from the job,
// and "vsp" with the job JSON plus the model hash and the vsp version. The job's "job" object (the
// job as given) keeps only the fields whose value differs from the top-level field of the same
// name; "given_as_resolved" lists the fields it dropped, given as the top level says.
io::TextChunks image_metadata(nlohmann::json job, const models::Manifest& manifest);

}  // namespace vsp::app
