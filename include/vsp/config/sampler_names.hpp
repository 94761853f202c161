#pragma once
#include <string>
#include <vector>

namespace vsp::sampling {

// The samplers make_scheduler knows, in its order: "euler", "ddim", "dpmpp2m". Torch-free, so the
// job schema can offer them as choices without linking the samplers.
const std::vector<std::string>& scheduler_names();

}  // namespace vsp::sampling
