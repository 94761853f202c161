#include "vsp/sampling/scheduler.hpp"

#include <algorithm>
#include <functional>

#include "samplers.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"

namespace vsp::sampling {
namespace {

using Factory = std::function<std::unique_ptr<Scheduler>(const ScheduleConfig&)>;

// The same sampler on Karras sigmas.
Factory with_karras(Factory make) {
  return [make](const ScheduleConfig& config) {
    ScheduleConfig karras = config;
    karras.karras_sigmas = true;
    return make(karras);
  };
}

// One factory per name of scheduler_names() (sampler_names.cpp, torch-free), in the same order.
const std::vector<Factory>& factories() {
  static const std::vector<Factory> list = {detail::make_euler,
                                            detail::make_ddim,
                                            detail::make_dpmpp_2m,
                                            with_karras(detail::make_euler),
                                            with_karras(detail::make_dpmpp_2m),
                                            detail::make_euler_ancestral,
                                            detail::make_lcm};
  return list;
}

}  // namespace

std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const ScheduleConfig& config) {
  const auto& names = scheduler_names();
  const auto found = std::find(names.begin(), names.end(), name);
  if (found != names.end()) return factories().at(static_cast<size_t>(found - names.begin()))(config);
  const std::string list = join(names);
  throw Error("unknown sampler '" + name + "'; choose one of: " + list);
}

}  // namespace vsp::sampling
