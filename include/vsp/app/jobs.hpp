#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vsp/config/lora_spec.hpp"
#include "vsp/config/modes.hpp"
#include "vsp/config/output_files.hpp"
#include "vsp/pipeline/progress.hpp"
#include "vsp/text/prompt_weights.hpp"

namespace vsp::models {
struct Manifest;
struct Model;
}  // namespace vsp::models

namespace vsp::app {

// One image a job writes: its file, relative to the output folder, and the JSON its metadata
// carries (image_metadata adds the model hash and the vsp version).
struct OutputImage {
  std::filesystem::path file;
  nlohmann::json metadata;
};

// A float32 array a job writes as a .npy file, relative to the output folder, and the option that
// asked for it (its name as the user typed it).
struct OutputArray {
  std::filesystem::path file;
  std::string option;
};

// What run() returns (job_result.hpp: it holds tensors, which this header leaves out).
struct JobResult;

// A job checked against the model's manifest, its outputs known before it runs (for duplicate
// names, --resume and the progress bar).
class PlannedJob {
 public:
  virtual ~PlannedJob() = default;
  nlohmann::json job;                   // the whole job, as given (defaults merged)
  std::vector<OutputImage> outputs;     // what run() returns, in order
  std::vector<OutputArray> arrays;      // the .npy files run() returns in JobResult::arrays
  int64_t rows = 0;                     // images denoised together
  int64_t work = 0;                     // denoising steps times rows, for the ETA
  int64_t image_pixels = 0;             // width times height of each image, for the memory check
  std::vector<models::LoraSpec> loras;  // merged into the model's weights while it runs (none: the export's)

  virtual JobResult run(const models::Model& model, const pipeline::ProgressFn& progress) const = 0;
  // Jobs with the same non-empty group key can run together as one batch of rows.
  virtual std::string group_key() const { return {}; }
  // Runs the jobs of one group key (this one among them) together; results in their order.
  // The default runs them one after the other.
  virtual std::vector<JobResult> run_group(const std::vector<const PlannedJob*>& group, const models::Model& model,
                                           const pipeline::ProgressFn& progress) const;
};

// What a job is planned against.
struct PlanContext {
  const models::Manifest& manifest;
  std::string name;                   // prefix of the output files ("" on the command line)
  std::filesystem::path base_folder;  // relative paths in the job are taken from here
  int64_t batch_size = 0;             // rows per UNet call when the job does not say (0: all)
  bool deterministic = false;         // --deterministic: one image per UNet call, whatever the job says
};

// A mode (generate, style, ...): its schema (name, description, options; modes.hpp) and how a job
// of it is planned. plan throws vsp::Error on a job that cannot run.
using Planner = std::function<std::unique_ptr<PlannedJob>(const nlohmann::json& job, const PlanContext& context)>;
struct Mode : ModeSchema {
  Planner plan;
};

// A job whose control_image is a folder: one run per picture in it (io::list_images), each the
// job with that picture as its control_image, named after the picture: "bird.png" plans the run
// named "bird" on the command line, "<job name>_bird" in a jobs file. The parts run one after the
// other; their results concatenate.
class ControlFolderJob : public PlannedJob {
 public:
  std::vector<std::unique_ptr<PlannedJob>> parts;
  std::vector<std::string> part_names;  // the pictures' names without extension

  JobResult run(const models::Model& model, const pipeline::ProgressFn& progress) const override;
};
// A planner that plans a ControlFolderJob when the job's control_image is a folder, else `plan`.
Planner over_control_folders(Planner plan);

// Each mode's planner, plan_<name> (modes.hpp's VSP_MODES lists the modes).
#define VSP_DECLARE_PLANNER(name) \
  std::unique_ptr<PlannedJob> plan_##name(const nlohmann::json& job, const PlanContext& context);
VSP_MODES(VSP_DECLARE_PLANNER)
#undef VSP_DECLARE_PLANNER

// Every mode, in VSP_MODES's order; a job whose control_image is a folder plans a ControlFolderJob.
const std::vector<const Mode*>& all_modes();
// Throws vsp::Error listing the closest mode names.
const Mode& find_mode(const std::string& name, const std::string& where);

// Checks what can be known before any model runs, throwing a one-line vsp::Error: the job's
// images fit in this machine's memory, every output's metadata can be written (its text is
// UTF-8), and with inside_folder every output path stays inside the output folder. memory_advice
// is the mode's (ModeSchema).
void check_outputs(const PlannedJob& job, const models::Manifest& manifest, bool inside_folder,
                   const std::string& memory_advice);

// Claims every file of the job (output_files.hpp) for `writer` ("jobs[3]"; "" on the command line):
// its images, and each array for its option.
void claim_outputs(const PlannedJob& job, OutputClaims& claims, const std::string& writer);
// Every file of the job, images then arrays, relative to the output folder.
std::vector<std::filesystem::path> output_files(const PlannedJob& job);
// A single-job command's check before any compute: the job's files and latents_file (--save-latents;
// empty: none) claimed together, and each creatable under folder.
void check_run_files(const PlannedJob& job, const std::filesystem::path& folder,
                     const std::filesystem::path& latents_file);

// The job's prompt syntax ("prompt_weights", on by default: A1111's), with each prompt parsed now,
// before any model runs, so that a bad weight is a usage error.
text::PromptSyntax prompt_syntax(const nlohmann::json& job, const std::vector<std::string>& prompts);

// The job's LoRAs: its "lora" list (--lora FILE[:WEIGHT]), then, when it names a "lora_dir", the
// A1111 tags <lora:NAME:W> of `prompts`, which are taken out of them. Files relative to the
// context's base folder.
std::vector<models::LoraSpec> read_loras(const nlohmann::json& job, const PlanContext& context,
                                         const std::vector<std::string*>& prompts);
// Prompt-to-prompt's check: its prompts are plain text, so with "prompt_weights" on a prompt that
// A1111's syntax would read differently is a usage error.
void check_plain_prompts(const nlohmann::json& job, const std::vector<std::string>& prompts);

// Writes each output's image under folder with its metadata; returns the paths written.
std::vector<std::filesystem::path> write_outputs(const PlannedJob& job, const JobResult& result,
                                                 const std::filesystem::path& folder, const models::Manifest& manifest);
// True when every output already exists under folder with exactly the metadata it would get.
bool outputs_up_to_date(const PlannedJob& job, const std::filesystem::path& folder, const models::Manifest& manifest);

}  // namespace vsp::app
