#pragma once
#include <string>
#include <vector>

namespace vsp::sampling {

// The samplers make_scheduler knows, in its order: "euler", "ddim", "dpmpp2m", "euler-karras",
// "dpmpp2m-karras", "euler-a", "lcm". Torch-free, so the job schema can offer them as choices without
// linking them.
const std::vector<std::string>& scheduler_names();

// The vsp name of a sampler as other tools spell it (A1111's "DPM++ 2M", ComfyUI's "dpmpp_2m",
// diffusers' "DPMSolverMultistepScheduler"; any case), or `name` itself when it is none of them.
std::string sampler_from_alias(const std::string& name);

}  // namespace vsp::sampling
