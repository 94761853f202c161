#pragma once
// The sampler factories behind make_scheduler, one per file (euler.cpp, ddim.cpp, dpmpp_2m.cpp,
// euler_ancestral.cpp, lcm.cpp).
#include <memory>

#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling::detail {

std::unique_ptr<Scheduler> make_euler(const ScheduleConfig& config);
std::unique_ptr<Scheduler> make_ddim(const ScheduleConfig& config);
std::unique_ptr<Scheduler> make_dpmpp_2m(const ScheduleConfig& config);
std::unique_ptr<Scheduler> make_euler_ancestral(const ScheduleConfig& config);
std::unique_ptr<Scheduler> make_lcm(const ScheduleConfig& config);

}  // namespace vsp::sampling::detail
