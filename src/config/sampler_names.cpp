#include "vsp/config/sampler_names.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace vsp::sampling {

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names = {"euler",          "ddim",    "dpmpp2m", "euler-karras",
                                                 "dpmpp2m-karras", "euler-a", "lcm"};
  return names;
}

std::string sampler_from_alias(const std::string& name) {
  // Only exact equivalents (DPM++ 2M SDE, say, stays an unknown name, and the error lists the
  // samplers vsp has).
  static const std::map<std::string, std::string> aliases = {{"euler", "euler"},
                                                             {"eulerdiscretescheduler", "euler"},
                                                             {"ddim", "ddim"},
                                                             {"ddimscheduler", "ddim"},
                                                             {"dpm++ 2m", "dpmpp2m"},
                                                             {"dpmpp_2m", "dpmpp2m"},
                                                             {"dpmpp2m", "dpmpp2m"},
                                                             {"dpmsolvermultistepscheduler", "dpmpp2m"},
                                                             {"euler karras", "euler-karras"},
                                                             {"euler-karras", "euler-karras"},
                                                             {"euler_karras", "euler-karras"},
                                                             {"dpm++ 2m karras", "dpmpp2m-karras"},
                                                             {"dpmpp_2m_karras", "dpmpp2m-karras"},
                                                             {"dpmpp2m-karras", "dpmpp2m-karras"},
                                                             {"euler a", "euler-a"},
                                                             {"euler-a", "euler-a"},
                                                             {"euler_ancestral", "euler-a"},
                                                             {"eulerancestraldiscretescheduler", "euler-a"},
                                                             {"lcm", "lcm"},
                                                             {"lcmscheduler", "lcm"}};
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto found = aliases.find(lower);
  return found == aliases.end() ? name : found->second;
}

}  // namespace vsp::sampling
