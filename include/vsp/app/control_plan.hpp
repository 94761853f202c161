#pragma once
#include <nlohmann/json.hpp>

#include "vsp/app/jobs.hpp"
#include "vsp/pipeline/control.hpp"

namespace vsp::app {

// A job's ControlNet fields (control, control_image, control_scale, control_start/end, canny_low/
// high), checked against the model's ControlNets; the picture is checked, not read (its map is
// made when the job runs: pipeline::with_control_map). No "control": none. Relative paths are
// taken from context.base_folder. Throws vsp::Error.
pipeline::ControlSettings plan_control(const nlohmann::json& job, const PlanContext& context);
// What the images' metadata says of their control: the map's source and kind, scale and window.
nlohmann::json control_metadata(const nlohmann::json& job, const pipeline::ControlSettings& settings);

}  // namespace vsp::app
