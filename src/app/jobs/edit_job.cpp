// The edit mode: prompt-to-prompt. A job writes source.png, edit_1.png ... (one per edited
// prompt) and grid.png, and with "save_attention" each prompt's cross-attention maps per token.
#include <torch/torch.h>

#include <cctype>

#include "vsp/app/job_result.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/config/edit_options.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/edit.hpp"
#include "vsp/sampling/scheduler.hpp"
#include "vsp/text/prompt_alignment.hpp"
#include "vsp/values.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// File-name part of a token: letters and digits, else "token".
std::string token_file_part(const std::u32string& text) {
  std::string part;
  for (char32_t c : text)
    if (c < 128 && std::isalnum(static_cast<unsigned char>(c))) part += static_cast<char>(c);
  return part.empty() ? "token" : part;
}

// A label for cv::putText, which draws ASCII only.
std::string ascii_label(const std::u32string& text) {
  std::string label;
  for (char32_t c : text) label += c >= 32 && c < 127 ? static_cast<char>(c) : '?';
  return label;
}

// The level whose grid is `side` tokens on the image's shorter latent side, among the levels with
// cross-attention (self = false, the down and up blocks') or self-attention layers (self = true).
int level_of_side(const models::Manifest& manifest, bool self, int64_t side, int64_t latent_h, int64_t latent_w,
                  const std::string& flag) {
  std::string sizes;
  for (int level = 0; level < 8; ++level) {
    bool has = false;
    for (const auto& layer : manifest.attention_layers)
      has = has || (layer.self == self && layer.level == level && (self || layer.block != "mid_block"));
    if (!has) continue;
    int64_t h = latent_h, w = latent_w;
    for (int i = 0; i < level; ++i) h = (h + 1) / 2, w = (w + 1) / 2;
    if (std::min(h, w) == side) return level;
    sizes += (sizes.empty() ? "" : ", ") + std::to_string(std::min(h, w));
  }
  throw UsageError(flag + " " + std::to_string(side) + " matches no " + (self ? "self" : "cross") +
                   "-attention level at this size; use one of " + sizes);
}

class EditJob : public PlannedJob {
 public:
  pipeline::EditPlan plan;
  bool saves_null_text = false;                     // the embeddings are the first array
  std::vector<std::vector<std::u32string>> tokens;  // per prompt: its tokens' text, BOS to EOS
  std::vector<std::string> row_names;               // source, edit_1, ...

  JobResult run(const models::Model& model, const pipeline::ProgressFn& progress) const override {
    const auto made = pipeline::prompt_edit(model, plan, progress);
    if (!made.null_text_losses.empty()) {
      int iterations = 0;
      for (int n : made.null_text_iterations) iterations += n;
      log::info("null-text inversion: " + std::to_string(iterations) + " Adam iterations over " +
                std::to_string(made.null_text_iterations.size()) + " steps, last loss " +
                std::to_string(made.null_text_losses.back()));
    }
    JobResult result{{}, made.latents};
    size_t array = 0;  // the planned arrays, in order: the null-text embeddings first
    if (saves_null_text) result.arrays.emplace_back(arrays.at(array++).file, made.null_text_embeds);
    for (int64_t row = 0; row < made.images.size(0); ++row) result.images.push_back(to_image(made.images[row]));
    result.images.push_back(io::make_grid(result.images, static_cast<int>(result.images.size()), 4));
    if (made.maps.defined()) {
      for (size_t row = 0; row < tokens.size(); ++row) {
        const io::Image image = result.images[row];  // a copy: images grows below
        std::vector<io::Image> labelled;
        for (size_t t = 0; t < tokens[row].size(); ++t) {
          const auto map = made.maps[static_cast<int64_t>(row)].select(-1, static_cast<int64_t>(t)).contiguous();
          auto heatmap = io::overlay_heatmap(image, map.data_ptr<float>(), static_cast<int>(map.size(1)),
                                             static_cast<int>(map.size(0)));
          labelled.push_back(io::label_below(heatmap, ascii_label(tokens[row][t])));
          result.images.push_back(std::move(heatmap));
        }
        result.images.push_back(io::make_grid(labelled, static_cast<int>(std::min<size_t>(labelled.size(), 8)), 4));
        result.arrays.emplace_back(arrays.at(array++).file, made.maps[static_cast<int64_t>(row)]);
      }
    }
    return result;
  }
};

// The job's request, as given: prepare_edit checks it against the model.
pipeline::EditRequest read_request(const json& job, const PlanContext& context) {
  const auto& manifest = context.manifest;
  pipeline::EditRequest r;
  if (!job.contains("prompt")) throw UsageError("edit needs --prompt SOURCE_PROMPT");
  r.source = job["prompt"].get<std::string>();
  r.edits = job.value("to", std::vector<std::string>{});
  if (r.edits.empty() && job.contains("reweight")) r.edits = {r.source};
  if (job.contains("negative") && !job["negative"].is_null()) r.negative = job["negative"].get<std::string>();
  std::vector<std::string> prompts{r.source, r.negative.value_or("")};
  prompts.insert(prompts.end(), r.edits.begin(), r.edits.end());
  check_plain_prompts(job, prompts);
  // Read once, here: the alignment, the encoders and the metadata see the same words.
  r.source = text::without_escapes(r.source);
  for (auto& edit : r.edits) edit = text::without_escapes(edit);
  if (r.negative) r.negative = text::without_escapes(*r.negative);
  r.mode = job.value("edit_mode", r.mode);  // "mode" is the job's mode, "edit"
  r.reweights = parse_reweights(job.value("reweight", std::vector<std::string>{}));
  for (const auto& entry : job.value("blend", std::vector<std::string>{})) r.blend.push_back(text::split_words(entry));
  r.blend_threshold = job.value("blend_threshold", r.blend_threshold);
  if (job.contains("cross_replace")) r.cross_replace = parse_cross_replace(job["cross_replace"].get<std::string>());
  r.self_replace = job.value("self_replace", r.self_replace);
  r.steps = job.value("steps", r.steps);
  r.cfg = job.value("cfg", r.cfg);
  r.seed = job.value("seed", r.seed);
  r.sampler = job.value("sampler", r.sampler);
  r.width = job.value("width", manifest.default_size);
  r.height = job.value("height", manifest.default_size);
  if (job.contains("self_replace_res"))
    r.self_level =
        level_of_side(manifest, true, job["self_replace_res"].get<int64_t>(), r.height / manifest.vae_scale_factor,
                      r.width / manifest.vae_scale_factor, "--self-replace-res");
  if (job.contains("image")) {
    const fs::path given = job["image"].get<std::string>();
    r.image = given.is_absolute() ? given : context.base_folder / given;
    io::check_image_file(*r.image);
  } else if (job.contains("inversion")) {
    throw UsageError("--inversion applies to --image");
  }
  r.inversion = job.value("inversion", r.inversion);
  r.source_pooled = job.value("source_pooled", r.source_pooled);
  r.vae_tiling = pipeline::parse_vae_tiling(job.value("vae_tiling", "auto"));

  if (job.contains("save_attention")) {
    const int64_t h = r.height / manifest.vae_scale_factor, w = r.width / manifest.vae_scale_factor;
    r.attention_level =
        job.contains("attention_res")
            ? level_of_side(manifest, false, job["attention_res"].get<int64_t>(), h, w, "--attention-res")
            : pipeline::kCoarseLevel;
  } else if (job.contains("attention_res")) {
    throw UsageError("--attention-res needs --save-attention DIR");
  }
  return r;
}

}  // namespace

std::unique_ptr<PlannedJob> plan_edit(const json& job, const PlanContext& context) {
  const auto& manifest = context.manifest;
  auto planned = std::make_unique<EditJob>();
  planned->job = job;
  const auto tokenizers = models::load_tokenizers(manifest);
  planned->plan = pipeline::prepare_edit(manifest, tokenizers, read_request(job, context));
  const auto& r = planned->plan.request;
  if (job.contains("save_null_text")) {
    if (!r.image || r.inversion != "null-text")
      throw UsageError("--save-null-text needs --image with null-text inversion");
    const std::string given = job["save_null_text"];
    const fs::path file = fs::path(context.name) / inside_output_folder(given, "--save-null-text");
    if (!has_extension(file, ".npy")) throw UsageError("--save-null-text must name a .npy file, got '" + given + "'");
    planned->arrays.push_back({file, "--save-null-text"});
    planned->saves_null_text = true;
  }
  std::vector<std::string> prompts{r.source};
  prompts.insert(prompts.end(), r.edits.begin(), r.edits.end());
  planned->row_names = {"source"};
  for (size_t e = 1; e <= r.edits.size(); ++e) planned->row_names.push_back("edit_" + std::to_string(e));

  json shown_job = job;
  json shared = {
      {"mode", "edit"},   {"source", r.source}, {"edits", r.edits}, {"edit_modes", planned->plan.alignment.modes},
      {"steps", r.steps}, {"cfg", r.cfg},       {"seed", r.seed},   {"sampler", r.sampler},
      {"width", r.width}, {"height", r.height}, {"job", shown_job}};
  if (r.image) {
    shared["image"] = job["image"];
    shared["inversion"] = r.inversion;
  }
  const fs::path folder = context.name;
  for (size_t row = 0; row < prompts.size(); ++row) {
    auto metadata = shared;
    metadata["prompt"] = prompts[row];
    if (r.negative) metadata["negative"] = *r.negative;
    planned->outputs.push_back({folder / (planned->row_names[row] + ".png"), metadata});
  }
  auto grid_metadata = shared;
  grid_metadata["prompt"] = r.source;
  planned->outputs.push_back({folder / "grid.png", grid_metadata});

  if (job.contains("save_attention")) {
    const int max_length = manifest.text_encoders.empty() ? 77 : manifest.text_encoders.front().max_length;
    const fs::path attention_folder =
        folder / inside_output_folder(job["save_attention"].get<std::string>(), "--save-attention");
    const auto& tokenizer = tokenizers.front();
    for (size_t row = 0; row < prompts.size(); ++row) {
      auto ids = tokenizer.encode(prompts[row], static_cast<size_t>(max_length));
      const auto eos = std::find(ids.begin() + 1, ids.end(), tokenizer.eos_id());
      ids.erase(eos == ids.end() ? ids.end() : eos + 1, ids.end());
      std::vector<std::u32string> texts;
      for (size_t t = 0; t < ids.size(); ++t) {
        texts.push_back(tokenizer.token_text(ids[t]));
        char number[8];
        std::snprintf(number, sizeof number, "%02zu", t);
        auto metadata = shared;
        metadata["prompt"] = prompts[row];
        metadata["attention_token"] = t;
        planned->outputs.push_back({attention_folder / planned->row_names[row] /
                                        (std::string(number) + "_" + token_file_part(texts.back()) + ".png"),
                                    metadata});
      }
      planned->tokens.push_back(std::move(texts));
      auto metadata = shared;
      metadata["prompt"] = prompts[row];
      planned->outputs.push_back({attention_folder / (planned->row_names[row] + "_tokens.png"), metadata});
      planned->arrays.push_back({attention_folder / (planned->row_names[row] + ".npy"), "--save-attention"});
    }
  }
  planned->rows = static_cast<int64_t>(prompts.size());
  planned->image_pixels = static_cast<int64_t>(r.width) * r.height;
  planned->work = static_cast<int64_t>(r.steps) * planned->rows;
  return planned;
}

}  // namespace vsp::app
