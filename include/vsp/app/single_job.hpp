#pragma once
// One job from the command line, as every single-job command (generate, --style, transfer, edit)
// runs it: planned, then checked before any compute (the job's outputs, every file it writes
// claimed together and creatable, the folder locked), then the model loaded, the job run with a
// progress bar and its files written.
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "vsp/app/commands.hpp"
#include "vsp/app/jobs.hpp"

namespace vsp::app {

// Where a planned job's files go, decided by the command once the job is planned.
struct Placement {
  std::filesystem::path folder;  // the output folder; the outputs' names are relative to it
  std::string label;             // the progress bar's
};

struct SingleJob {
  const Mode& mode;
  nlohmann::json job;           // as the flags filled it; checked against the mode's schema here
  std::string latents;          // --save-latents as typed, a .npy name inside the folder ("": none)
  bool timings = false;         // --timings
  int64_t images_per_call = 0;  // PlanContext::batch_size
  // Whether the run owns its output folder (locked, recorded, never mixed with another run's
  // files); generate writes named files into a folder others share: only those may not exist.
  bool lock_folder = true;
  // Names the outputs where the command's flags say (generate's --out) and gives the folder.
  std::function<Placement(PlannedJob&)> place;
};

void run_single_job(const SingleJob& run, const CommonOptions& common);

}  // namespace vsp::app
