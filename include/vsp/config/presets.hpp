#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vsp/config/job_schema.hpp"

namespace vsp::app {

// Named settings for a kind of model (configs/presets.json): SDXL-Turbo's one step without
// guidance, SDXL-Lightning's four. A preset fills the fields a job leaves out; what the job gives
// wins. Each preset's fields are checked against `options` like a job's. Throws vsp::UsageError
// for an unknown name (with the closest), vsp::Error for an unreadable or invalid file.
nlohmann::json with_preset(const nlohmann::json& job, const std::vector<OptionSpec>& options);

}  // namespace vsp::app
