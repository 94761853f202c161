#pragma once
#include <string>
#include <vector>

#include "vsp/app/job_schema.hpp"

namespace vsp::app {

// What a mode (generate, style, ...) takes: its options, shared by its flags and its batch jobs.
// Torch-free, so jobs files are checked (and fuzzed) without the runtime; jobs.hpp's Mode adds
// how a job of it is planned.
// Most images one job may make: a larger run belongs in a jobs file, which streams its jobs.
constexpr int64_t kMaxImagesPerJob = 1000;

struct ModeSchema {
  std::string name;
  std::string description;
  std::vector<OptionSpec> options;
  std::string memory_advice;  // what to lower when a job of it needs more memory than there is, in its flags
};

const ModeSchema& generate_schema();
const ModeSchema& style_schema();
const ModeSchema& transfer_schema();
const ModeSchema& edit_schema();
// Every mode a jobs file can name.
const std::vector<const ModeSchema*>& all_mode_schemas();
// Throws vsp::Error listing the closest mode names.
const ModeSchema& find_mode_schema(const std::string& name, const std::string& where);

}  // namespace vsp::app
