#pragma once
#include <string>
#include <vector>

#include "vsp/config/job_schema.hpp"

namespace vsp::app {

// What a mode (generate, style, ...) takes: its options, shared by its flags and its batch jobs.
// Torch-free, so jobs files are checked (and fuzzed) without the runtime; jobs.hpp's Mode adds
// how a job of it is planned.
// Most images one job may make: a larger run belongs in a jobs file, which streams its jobs.
constexpr int64_t kMaxImagesPerJob = 1000;

// How a mode's command writes its images: files named by --out (generate), a folder named after
// the style (style, also `vsp --style`), or the --out folder (transfer, edit).
enum class CommandKind { named_files, style_folder, folder };

struct ModeSchema {
  std::string name;
  std::string description;  // its command's line in `vsp --help`
  std::vector<OptionSpec> options;
  std::string memory_advice;  // what to lower when a job of it needs more memory than there is, in its flags
  CommandKind command = CommandKind::folder;
};

// The modes, in the order help and messages list them: the one place a mode is registered.
// X(name) needs name_schema() (its options, mode_schemas.cpp) and plan_name (its planner,
// src/app/jobs/name_job.cpp; jobs.hpp); from these the jobs files, the batch and the commands take it.
#define VSP_MODES(X) X(generate) X(style) X(transfer) X(edit)

#define VSP_DECLARE_SCHEMA(name) const ModeSchema& name##_schema();
VSP_MODES(VSP_DECLARE_SCHEMA)
#undef VSP_DECLARE_SCHEMA

// Every mode a jobs file can name.
const std::vector<const ModeSchema*>& all_mode_schemas();
// Throws vsp::Error listing the closest mode names.
const ModeSchema& find_mode_schema(const std::string& name, const std::string& where);

}  // namespace vsp::app
