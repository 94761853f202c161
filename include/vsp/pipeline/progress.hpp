#pragma once
#include <functional>

namespace vsp::pipeline {

// Called as a run advances with (steps done, total steps); torch-free, so the job planners'
// headers can name it without the runtime's.
using ProgressFn = std::function<void(int done, int total)>;

}  // namespace vsp::pipeline
