#include "vsp/app/jobs.hpp"
#include "vsp/app/control_plan.hpp"
#include "vsp/app/job_result.hpp"

#include <ATen/core/Tensor.h>
#include <unistd.h>

#include <algorithm>

#include "vsp/app/metadata.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/error.hpp"
#include "vsp/pipeline/phases.hpp"

namespace vsp::app {

std::vector<JobResult> PlannedJob::run_group(const std::vector<const PlannedJob*>& group, const models::Model& model,
                                             const pipeline::ProgressFn& progress) const {
  std::vector<JobResult> results;
  for (const auto* job : group) results.push_back(job->run(model, progress));
  return results;
}

text::PromptSyntax prompt_syntax(const nlohmann::json& job, const std::vector<std::string>& prompts) {
  if (!job.value("prompt_weights", true)) return text::PromptSyntax::plain;
  for (const auto& prompt : prompts) text::parse_prompt_weights(prompt);
  return text::PromptSyntax::a1111;
}

std::vector<models::LoraSpec> read_loras(const nlohmann::json& job, const PlanContext& context,
                                         const std::vector<std::string*>& prompts) {
  std::vector<models::LoraSpec> loras;
  for (const auto& text : job.value("lora", std::vector<std::string>{}))
    loras.push_back(models::parse_lora_spec(text, context.base_folder));
  if (!job.contains("lora_dir")) return loras;
  const std::filesystem::path given = job["lora_dir"].get<std::string>();
  const auto folder = given.is_absolute() ? given : context.base_folder / given;
  std::error_code error;
  if (!std::filesystem::is_directory(folder, error))
    throw Error("--lora-dir " + folder.string() + " is not a folder; name the folder of your .safetensors LoRAs");
  // A tag changes the one model every row runs on: each LoRA merges once, however many targets
  // (a prompt repeated for --num) carry its tag.
  std::vector<models::LoraSpec> tagged;
  for (auto* prompt : prompts)
    for (auto& spec : models::take_lora_tags(*prompt, folder)) {
      const auto same_file = std::find_if(tagged.begin(), tagged.end(),
                                          [&](const models::LoraSpec& other) { return other.file == spec.file; });
      if (same_file == tagged.end()) {
        tagged.push_back(std::move(spec));
      } else if (same_file->weight != spec.weight) {
        throw UsageError("the prompts tag " + spec.file.stem().string() + " at two weights (" +
                         std::to_string(same_file->weight) + " and " + std::to_string(spec.weight) +
                         "); one model runs every row, so give it one weight");
      }
    }
  loras.insert(loras.end(), tagged.begin(), tagged.end());
  return loras;
}

void check_plain_prompts(const nlohmann::json& job, const std::vector<std::string>& prompts) {
  if (!job.value("prompt_weights", true)) return;
  for (const auto& prompt : prompts)
    if (text::uses_prompt_syntax(prompt))
      throw UsageError("prompt-to-prompt reads prompts as plain text, but \"" + prompt +
                       "\" uses A1111's syntax (brackets, weights, BREAK or \\); give word weights with --reweight, "
                       "or pass --no-prompt-weights to keep the text as written");
}

io::Image to_image(const at::Tensor& pixels) {
  return {static_cast<int>(pixels.size(1)), static_cast<int>(pixels.size(0)), 3,
          std::vector<uint8_t>(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel())};
}

const std::vector<const Mode*>& all_modes() {
#define VSP_MODE_ENTRY(name) Mode{name##_schema(), over_control_folders(plan_##name)},
  static const std::vector<Mode> table = {VSP_MODES(VSP_MODE_ENTRY)};
#undef VSP_MODE_ENTRY
  static const std::vector<const Mode*> modes = [] {
    std::vector<const Mode*> pointers;
    for (const auto& mode : table) pointers.push_back(&mode);
    return pointers;
  }();
  return modes;
}

const Mode& find_mode(const std::string& name, const std::string& where) {
  const ModeSchema& schema = find_mode_schema(name, where);
  for (const auto* mode : all_modes())
    if (mode->name == schema.name) return *mode;
  throw std::logic_error("mode \"" + schema.name + "\" has a schema but no planner");
}

namespace {

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0;
}

}  // namespace

void check_outputs(const PlannedJob& job, const models::Manifest& manifest, bool inside_folder,
                   const std::string& memory_advice) {
  if (job.rows > kMaxImagesPerJob)
    throw UsageError(std::to_string(job.rows) + " images in one job is more than vsp makes at once (" +
                     std::to_string(kMaxImagesPerJob) + "); " + memory_advice + ", or split the run into a jobs file");
  // Every image stays in memory until the job ends: float pixels while decoding, then 8-bit copies
  // and the grid, about 24 bytes a pixel. Half the machine's memory leaves room for the model.
  const double needed = static_cast<double>(job.rows) * static_cast<double>(job.image_pixels) * 24;
  const double memory = physical_memory_bytes();
  if (memory > 0 && needed > memory / 2)
    throw Error(std::to_string(job.rows) + " images of " + std::to_string(job.image_pixels / 1000000.0).substr(0, 4) +
                " megapixels need about " + std::to_string(static_cast<int64_t>(needed / 1e9 + 1)) +
                " GB of memory, more than half of this machine's " +
                std::to_string(static_cast<int64_t>(memory / 1e9)) + " GB; " + memory_advice +
                ", or split the run into a jobs file");
  for (const auto& output : job.outputs) {
    if (inside_folder) {
      const auto normal = output.file.lexically_normal();
      if (output.file.is_absolute() || normal.empty() || *normal.begin() == "..")
        throw UsageError("output " + output.file.string() +
                         " would be written outside the output folder; use a plain name");
    }
    try {
      (void)image_metadata(output.metadata, manifest);
    } catch (const nlohmann::json::type_error&) {
      throw UsageError("the metadata of " + output.file.string() +
                       " holds text that is not UTF-8 (a prompt, a file or folder name, or the model path); use UTF-8");
    }
  }
}

void claim_outputs(const PlannedJob& job, OutputClaims& claims, const std::string& writer) {
  for (const auto& output : job.outputs) claims.claim(output.file, writer.empty() ? "the images" : writer);
  for (const auto& array : job.arrays) claims.claim(array.file, (writer.empty() ? "" : writer + "'s ") + array.option);
}

std::vector<std::filesystem::path> output_files(const PlannedJob& job) {
  std::vector<std::filesystem::path> files;
  for (const auto& output : job.outputs) files.push_back(output.file);
  for (const auto& array : job.arrays) files.push_back(array.file);
  return files;
}

void check_run_files(const PlannedJob& job, const std::filesystem::path& folder,
                     const std::filesystem::path& latents_file) {
  OutputClaims claims("give each output its own name");
  claim_outputs(job, claims, "");
  auto files = output_files(job);
  if (!latents_file.empty()) {
    claims.claim(latents_file, "--save-latents");
    files.push_back(latents_file);
  }
  check_creatable(folder, files);
}

pipeline::ControlSettings plan_control(const nlohmann::json& job, const PlanContext& context) {
  if (!job.contains("control")) {
    for (const char* key :
         {"control_image", "control_scale", "control_start", "control_end", "canny_low", "canny_high"})
      if (job.contains(key)) {
        std::string flag = std::string("--") + key;
        std::replace(flag.begin(), flag.end(), '_', '-');  // each of these flags is its field with dashes
        throw UsageError(flag + " needs --control canny|depth|depth-map");
      }
    return {};
  }
  const std::string control = job["control"];
  const auto kind = pipeline::controlnet_kind(control);
  if (!context.manifest.controlnets.count(kind) && context.manifest.family != "sdxl")
    throw Error("--control " + control + ": ControlNets run with SDXL exports, and model folder '" +
                context.manifest.folder.string() + "' is an " + context.manifest.family +
                " export; use an SDXL model (vsp has no SD 1.x/2.x ControlNet yet)");
  if (!context.manifest.controlnets.count(kind))
    throw Error("--control " + control + ": model folder '" + context.manifest.folder.string() + "' has no " + kind +
                " ControlNet; export the model with scripts/export.py ... --controlnet " + kind +
                "=diffusers/controlnet-" + kind + "-sdxl-1.0");
  if (control == "depth" && !context.manifest.depth_estimator)
    throw Error(models::no_depth_estimator_message(context.manifest.folder));
  if (!job.contains("control_image")) throw UsageError("--control " + control + " needs --control-image FILE");
  const std::filesystem::path file = job["control_image"].get<std::string>();
  pipeline::ControlSettings settings;
  settings.control = control;
  settings.kind = kind;
  settings.picture = file.is_absolute() ? file : context.base_folder / file;
  io::check_image_file(settings.picture);
  settings.canny_low = job.value("canny_low", settings.canny_low);
  settings.canny_high = job.value("canny_high", settings.canny_high);
  settings.scale = job.value("control_scale", settings.scale);
  settings.start = job.value("control_start", settings.start);
  settings.end = job.value("control_end", settings.end);
  if (settings.start >= settings.end)
    throw UsageError("--control-start " + std::to_string(settings.start) + " must be below --control-end " +
                     std::to_string(settings.end));
  return settings;
}

nlohmann::json control_metadata(const nlohmann::json& job, const pipeline::ControlSettings& settings) {
  nlohmann::json control = {{"control", job["control"]},
                            {"image", job["control_image"]},
                            {"scale", settings.scale},
                            {"start", settings.start},
                            {"end", settings.end}};
  if (settings.control == "canny") control["canny"] = {settings.canny_low, settings.canny_high};
  return control;
}

std::vector<std::filesystem::path> write_outputs(const PlannedJob& job, const JobResult& result,
                                                 const std::filesystem::path& folder,
                                                 const models::Manifest& manifest) {
  pipeline::PhaseClock clock("write", c10::kCPU);
  // A bare file name ("out.png") has no folder to create.
  const auto make_folder_of = [](const std::filesystem::path& path) {
    if (path.parent_path().empty()) return;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec)
      throw Error("cannot create folder " + path.parent_path().string() + ": " + ec.message() +
                  "; choose another --out");
  };
  std::vector<std::filesystem::path> written;
  for (size_t i = 0; i < job.outputs.size(); ++i) {
    const auto path = folder / job.outputs[i].file;
    make_folder_of(path);
    io::write_png(path, result.images.at(i), image_metadata(job.outputs[i].metadata, manifest));
    written.push_back(path);
  }
  for (const auto& [file, array] : result.arrays) {
    const auto path = folder / file;
    make_folder_of(path);
    const auto values = array.to(at::kFloat).contiguous();
    io::write_npy(path, values.sizes().vec(), values.data_ptr<float>());
    written.push_back(path);
  }
  return written;
}

bool outputs_up_to_date(const PlannedJob& job, const std::filesystem::path& folder, const models::Manifest& manifest) {
  for (const auto& output : job.outputs) {
    const auto path = folder / output.file;
    if (!std::filesystem::is_regular_file(path)) return false;
    try {
      const auto text = io::read_png_text(path);
      const auto found = text.find("vsp");
      if (found == text.end()) return false;
      // The model is matched by its manifest's hash, not by how its path was spelled (./m, m/, /abs/m).
      auto stored = nlohmann::json::parse(found->second);
      auto expected = nlohmann::json::parse(image_metadata(output.metadata, manifest).at("vsp"));
      stored.erase("model");
      expected.erase("model");
      if (stored != expected) return false;
    } catch (const std::exception&) {
      return false;  // unreadable or not vsp's JSON: make it again
    }
  }
  return true;
}

}  // namespace vsp::app
