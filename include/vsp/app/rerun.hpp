#pragma once
// `vsp rerun IMAGE.png [flags]`: the job a vsp PNG records in its "vsp" text chunk, run again by
// its mode's command, with the flags given on top.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vsp::app {

struct Mode;

struct RecordedJob {
  std::string image;           // the PNG, as given
  const Mode* mode = nullptr;  // the mode that made it
  nlohmann::json job;          // its job as given, every field the mode's
  std::string model_hash;      // the export's hash it was made with
  std::string model;           // and the export folder's name
};

// Reads the job back: the "job" object and the fields "given_as_resolved" names from the top level.
// Throws vsp::Error naming the file and what it lacks (not a PNG, no vsp chunk, a damaged chunk).
RecordedJob read_recorded_job(const std::filesystem::path& image);

// With argv[1] "rerun" and an image after it: the command line of the image's mode ("vsp MODE
// flags..."), its recorded job in `recorded`. Any other command line comes back as it is.
std::vector<std::string> rerun_command_line(const std::vector<std::string>& args, RecordedJob& recorded);

}  // namespace vsp::app
