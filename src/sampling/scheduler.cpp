#include "vsp/sampling/scheduler.hpp"

#include <functional>
#include <utility>

#include "samplers.hpp"
#include "vsp/error.hpp"

namespace vsp::sampling {
namespace {

using Factory = std::function<std::unique_ptr<Scheduler>(const ScheduleConfig&)>;

const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> samplers = {
      {"euler", detail::make_euler}, {"ddim", detail::make_ddim}, {"dpmpp2m", detail::make_dpmpp_2m}};
  return samplers;
}

}  // namespace

const std::vector<std::string>& scheduler_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const auto& entry : registry()) list.push_back(entry.first);
    return list;
  }();
  return names;
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const ScheduleConfig& config) {
  for (const auto& [known, factory] : registry())
    if (known == name) return factory(config);
  std::string list;
  for (const auto& known : scheduler_names()) list += (list.empty() ? "" : ", ") + known;
  throw Error("unknown sampler '" + name + "'; choose one of: " + list);
}

}  // namespace vsp::sampling
