#include "vsp/config/sampler_names.hpp"

namespace vsp::sampling {

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names = {"euler", "ddim", "dpmpp2m"};
  return names;
}

}  // namespace vsp::sampling
