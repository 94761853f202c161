#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vsp/config/defaults.hpp"
#include "vsp/io/image.hpp"
#include "vsp/pipeline/denoise.hpp"
#include "vsp/pipeline/vae_decode.hpp"
#include "vsp/sampling/scheduler.hpp"
#include "vsp/text/clip_tokenizer.hpp"

namespace vsp::pipeline {

// Prompt-to-prompt editing (docs/methods.md, section 3): the source prompt and each edited prompt are
// denoised together from one initial noise, the edited rows' attention steered by the source's.
struct EditRequest {
  std::string source;
  std::vector<std::string> edits;
  std::optional<std::string> negative;  // absent: each family's default (SDXL zeros, SD 1.x "")
  std::string mode = "auto";            // auto (per edit: replace when the word counts match), replace, refine
  std::vector<std::pair<std::string, double>> reweights;  // word -> weight, in the edited prompts
  std::vector<std::vector<std::string>> blend;            // local blend: words per prompt, source first (empty: none)
  double blend_threshold = defaults::edit::blend_threshold;
  // Fraction of the steps in which cross-attention is replaced: "default", then per word.
  std::vector<std::pair<std::string, double>> cross_replace = {{"default", defaults::edit::cross_replace}};
  double self_replace =
      defaults::edit::self_replace;  // fraction of the steps in which coarse self-attention is replaced
  int self_level = 2;                // ... at this level (the latent halved this often) and coarser: kCoarseLevel
  int steps = defaults::edit::steps;
  double cfg = defaults::edit::cfg;
  uint64_t seed = 0;
  std::string sampler = defaults::edit::sampler;
  int width = 1024, height = 1024;
  bool source_pooled =
      defaults::edit::source_pooled;  // SDXL: edits take the source's pooled embedding in the replace window
  VaeTiling vae_tiling = VaeTiling::automatic;
  int attention_level = -1;  // >= 0: also return the cross-attention maps of this level
  // A real image to edit (the source prompt describes it): DDIM-inverted with the source prompt at
  // guidance 1, then "null-text" (optimised unconditional embeddings per step, pipeline/null_text)
  // or "negative-prompt" (the unconditional embedding := the source's conditional one), or "ddim"
  // (the inversion alone, a baseline).
  std::optional<std::filesystem::path> image;  // the picture file (PNG or JPEG), read when it runs
  std::string inversion = "null-text";
  int null_text_iterations = defaults::edit::null_text_iterations;
};

// The level of the coarse edits: by default self-replacement at this level and coarser, local
// blend's maps at this level (latent/4: SD 1.x 16x16 at 512x512, as the original's stable notebook;
// SDXL 32x32 at 1024x1024).
constexpr int kCoarseLevel = 2;

// The token-level plan of an edit, the same for every tokenizer of the model (align_edit checks).
struct EditAlignment {
  int tokens = 77;
  std::vector<std::string> modes;           // per edit: "replace" or "refine"
  std::vector<std::vector<float>> mapper;   // per edit, tokens x tokens: the source's share
  std::vector<std::vector<float>> own;      // per edit, tokens: the edit's own share (refine's new tokens)
  std::vector<std::vector<float>> weights;  // per edit, tokens: reweighting (1: none)
  std::vector<std::vector<float>> alpha;    // per edit, (steps + 1) x tokens: the cross-replace schedule
  std::vector<std::vector<float>> blend;    // per prompt, tokens: 1 on its local-blend words (empty: none)
  int default_begin = 0, default_end = 0;   // steps of the default cross-replace window
  bool operator==(const EditAlignment& other) const;
};

// The alignment of the request's prompts under each tokenizer; throws vsp::Error on an edit that
// cannot apply (word counts for replace, a word that is not in its prompt or lies past the token
// limit) or whose alignment differs between the tokenizers.
EditAlignment align_edit(const std::vector<text::ClipTokenizer>& tokenizers, const EditRequest& request,
                         int max_length);

// An edit checked against the model, with what it resolves; prepare_edit makes it.
struct EditPlan {
  EditRequest request;
  EditAlignment alignment;
  std::vector<int> map_levels;  // the levels whose cross-attention maps are kept (local blend, --save-attention)
  sampling::ScheduleConfig schedule;
};

// Every check of an edit, before any picture is read or model run: size and steps for the model,
// the sampler and inversion for a picture, pooled embeddings, the prompts' alignment under each
// tokenizer (the model's, models::load_tokenizers) and the attention levels. Throws
// vsp::UsageError for what the command line asks wrongly, vsp::Error for what the model cannot do.
EditPlan prepare_edit(const models::Manifest& manifest, const std::vector<text::ClipTokenizer>& tokenizers,
                      EditRequest request);

struct EditResult {
  at::Tensor latents;                     // float32 [1 + edits, C, h, w] on the CPU: source first
  at::Tensor images;                      // uint8 [1 + edits, H, W, 3]
  std::vector<double> null_text_losses;   // with a null-text inversion: each step's last loss
  std::vector<int> null_text_iterations;  // and its Adam iterations
  at::Tensor null_text_embeds;            // and the optimised embeddings, float [steps, 77, C]
  at::Tensor maps;  // with attention_level: float [1 + edits, h_l, w_l, tokens], averaged over steps,
                    // heads and layers (the attention store)
};

EditResult prompt_edit(const models::Model& model, const EditPlan& plan, const ProgressFn& progress);

}  // namespace vsp::pipeline
