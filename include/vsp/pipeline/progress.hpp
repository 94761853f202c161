#pragma once
#include <functional>
#include <string>

namespace vsp::pipeline {

// One report from a long phase of a run: `done` of `total` units (modules loaded, steps, images
// decoded) of `phase` ("load", "inversion", "null-text", "denoise", "decode"), with what it is at
// now in `detail` (the module's file, null-text's inner iteration) or "".
struct ProgressEvent {
  std::string phase;
  int done = 0;
  int total = 0;
  std::string detail;
};

// Called as a run advances; torch-free, so the job planners' headers can name it without the runtime's.
using ProgressFn = std::function<void(const ProgressEvent&)>;

}  // namespace vsp::pipeline
