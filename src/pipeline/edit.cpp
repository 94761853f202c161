#include "vsp/pipeline/edit.hpp"

#include <torch/torch.h>

#include "vsp/attention/prompt_edit.hpp"
#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/image_latents.hpp"
#include "vsp/pipeline/null_text.hpp"
#include "vsp/pipeline/phases.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {
namespace {

at::Tensor floats(const std::vector<float>& values, std::vector<int64_t> shape) {
  return torch::tensor(values, torch::kFloat).reshape(shape);
}

// The controller's per-step coefficients: with c_j = w_j alpha_s,j,
//   source share  M_e diag(c),   own share  own_e,j w_j alpha_s,j + (1 - alpha_s,j)
// (the original's reweighted replace or refine base, blended with the row's own attention).
attention::PromptEdit coefficients(const EditAlignment& a, int steps, double self_replace, int self_level) {
  const auto edits = static_cast<int64_t>(a.mapper.size()), t = static_cast<int64_t>(a.tokens);
  std::vector<at::Tensor> mapper, own;
  for (int64_t e = 0; e < edits; ++e) {
    const auto m = floats(a.mapper[e], {t, t});
    const auto b = floats(a.own[e], {t});
    const auto w = floats(a.weights[e], {t});
    const auto alpha = floats(a.alpha[e], {steps + 1, t}).narrow(0, 0, steps);  // [steps, T]
    const auto c = w * alpha;
    mapper.push_back(m.unsqueeze(0) * c.unsqueeze(1));  // [steps, T, T]
    own.push_back(b * c + (1 - alpha));                 // [steps, T]
  }
  attention::PromptEdit edit;
  edit.mapper = torch::stack(mapper, 1);
  edit.own = torch::stack(own, 1);
  edit.self_begin = 0;
  edit.self_end = static_cast<int>(steps * self_replace);
  edit.self_level = self_level;
  return edit;
}

// The maps' grid at `level`: the latent halved `level` times.
std::pair<int64_t, int64_t> level_grid(int64_t h, int64_t w, int level) {
  for (int i = 0; i < level; ++i) {
    h = (h + 1) / 2;
    w = (w + 1) / 2;
  }
  return {h, w};
}

// Local blend, after a step: each edited row keeps the source's latents outside the union of its
// own and the source's word masks (maps summed over the steps so far, mean over heads and layers,
// 3x3 max pool, nearest resize, normalised by the max, above the threshold).
at::Tensor blend(const at::Tensor& latents, const attention::PromptEditController& controller,
                 const at::Tensor& indicators, double threshold) {
  const auto maps = controller.summed_maps(kCoarseLevel);
  const auto rows = latents.size(0);
  const auto [gh, gw] = level_grid(latents.size(2), latents.size(3), kCoarseLevel);
  if (!maps.defined() || maps.size(1) != gh * gw) throw std::logic_error("local blend: no maps at the blend level");
  auto words = (maps * indicators.to(maps.device()).unsqueeze(1)).sum(-1) / controller.heads_per_step(kCoarseLevel);
  auto mask = torch::max_pool2d(words.view({rows, 1, gh, gw}), {3, 3}, {1, 1}, {1, 1});
  mask = torch::nn::functional::interpolate(mask, torch::nn::functional::InterpolateFuncOptions()
                                                      .size(std::vector<int64_t>{latents.size(2), latents.size(3)})
                                                      .mode(torch::kNearest));
  mask = mask / mask.amax({2, 3}, true);
  const auto above = mask.gt(threshold);
  const auto edit_mask = above.narrow(0, 1, rows - 1).logical_or(above.narrow(0, 0, 1)).to(latents.scalar_type());
  const auto source = latents.narrow(0, 0, 1);
  return torch::cat({source, source + edit_mask * (latents.narrow(0, 1, rows - 1) - source)});
}

}  // namespace

EditPlan prepare_edit(const models::Manifest& m, const std::vector<text::ClipTokenizer>& tokenizers, EditRequest r) {
  m.check_size(r.width, r.height);
  m.check_steps(r.steps);
  if (r.image && r.sampler != "ddim") throw UsageError("--image edits through DDIM inversion: use --sampler ddim");
  if (r.image && r.inversion != "null-text" && r.inversion != "negative-prompt" && r.inversion != "ddim")
    throw UsageError("--inversion must be null-text, negative-prompt or ddim, got \"" + r.inversion + "\"");
  if (r.source_pooled && !m.added_conditioning)
    throw UsageError("--source-pooled needs a model with pooled text embeddings (SDXL)");
  auto schedule = sampling::ScheduleConfig::from_json(m.scheduler);
  const int max_length = m.text_encoders.empty() ? 77 : m.text_encoders.front().max_length;
  auto alignment = align_edit(tokenizers, r, max_length);
  // Local blend reads the maps at the coarse level; --save-attention at its own.
  std::vector<int> map_levels;
  const bool blending = !alignment.blend.empty();
  if (blending) map_levels.push_back(kCoarseLevel);
  if (r.attention_level >= 0 && !(blending && r.attention_level == kCoarseLevel))
    map_levels.push_back(r.attention_level);
  for (int level : map_levels) {
    bool found = false;
    for (const auto& layer : m.attention_layers) found = found || (!layer.self && layer.level == level);
    if (!found)
      throw UsageError("the model has no cross-attention at level " + std::to_string(level) + " (latent / " +
                       std::to_string(1 << level) + ") for " +
                       (level == kCoarseLevel && blending ? "--blend" : "the maps"));
  }
  return {std::move(r), std::move(alignment), std::move(map_levels), std::move(schedule)};
}

EditResult prompt_edit(const models::Model& model, const EditPlan& plan, const ProgressFn& progress) {
  const EditRequest& r = plan.request;
  const EditAlignment& alignment = plan.alignment;
  const auto& m = model.manifest;
  std::vector<std::string> prompts{r.source};
  prompts.insert(prompts.end(), r.edits.begin(), r.edits.end());
  const auto rows = static_cast<int64_t>(prompts.size());
  const auto& config = plan.schedule;
  auto scheduler = sampling::make_scheduler(r.sampler, config);
  scheduler->set_timesteps(r.steps);

  Conditioning cond, uncond;
  at::Tensor start;
  SeededNoise noise({m.latent_channels, r.height / m.vae_scale_factor, r.width / m.vae_scale_factor}, model.device);
  std::vector<at::Tensor> path;
  {
    torch::InferenceMode guard;
    // Prompt-to-prompt aligns the prompts' words as the request gives them (already read: edit_job).
    cond = encode_prompts(model, prompts, r.width, r.height, text::PromptSyntax::verbatim);
    uncond = encode_negative(model, r.negative, rows, r.width, r.height, text::PromptSyntax::verbatim);
    model.text_encoding_done();
    if (r.image) {
      // As the null-text notebook's load_512: a centre crop (offset rounded down; to the output's
      // aspect ratio, where the notebook's is square), then Pillow's default bicubic.
      const auto picture = io::crop_to_fill(io::read_image(*r.image), r.width, r.height);
      const auto z0 = encode_image(model, picture, r.width, r.height);
      PhaseClock clock("inversion", model.device);
      path = ddim_inversion_path(model, config, z0, cond.select({0}), r.steps, BranchLayout{}, nullptr,
                                 sampling::InversionForm::previous_level, progress);
      start = path.back().repeat({rows, 1, 1, 1});
    } else {
      // Every row starts from the same noise (and, with Euler a, gets the same noise at each step).
      noise.add(r.seed, 1);
      start = noise.draw().repeat({rows, 1, 1, 1}) * scheduler->init_noise_sigma();
      noise.feed(*scheduler, rows);
    }
  }

  EditResult result;
  std::vector<at::Tensor> null_embeds;
  if (r.image && r.inversion == "null-text") {
    // Outside InferenceMode, on ordinary tensors autograd may keep.
    std::vector<at::Tensor> trajectory;
    for (const auto& latent : path) trajectory.push_back(latent.clone());
    const auto copy = [](const Conditioning& c) {
      return Conditioning{c.prompt_embeds.clone(), c.pooled.defined() ? c.pooled.clone() : c.pooled,
                          c.time_ids.defined() ? c.time_ids.clone() : c.time_ids};
    };
    PhaseClock clock("null-text", model.device);
    const auto optimised = optimise_null_text(model, *scheduler, trajectory, copy(cond.select({0})),
                                              copy(uncond.select({0})), r.cfg, r.null_text_iterations, progress);
    null_embeds = optimised.uncond_embeds;
    result.null_text_losses = optimised.losses;
    result.null_text_iterations = optimised.iterations;
    result.null_text_embeds = torch::cat(null_embeds).to(torch::kCPU);
  } else if (r.image && r.inversion == "negative-prompt") {
    torch::InferenceMode guard;
    uncond = cond.select({0}).repeat(rows);
  }

  torch::InferenceMode guard;
  auto edit = coefficients(alignment, r.steps, r.self_replace, r.self_level);
  const bool blending = !alignment.blend.empty();
  edit.map_levels = plan.map_levels;
  attention::PromptEditController controller(std::move(edit), m.attention_layers);

  DenoiseOptions options;
  options.guidance = r.cfg;
  options.controller = &controller;
  options.layout.roles.assign(rows, attention::RowRole::edit);
  options.layout.roles.front() = attention::RowRole::source;
  options.progress = progress;
  const auto own_pooled = cond.pooled.defined() ? cond.pooled.clone() : at::Tensor();
  if (r.source_pooled || !null_embeds.empty()) {
    options.before_unet = [&](int step, at::Tensor&, RowInputs& inputs) {
      if (r.source_pooled) {
        const bool window = step >= alignment.default_begin && step < alignment.default_end;
        inputs.cond.pooled = window ? own_pooled.narrow(0, 0, 1).expand_as(own_pooled).contiguous() : own_pooled;
      }
      // Null-text: every row's unconditional embedding is the step's optimised one.
      if (!null_embeds.empty()) inputs.uncond.prompt_embeds = null_embeds[step].expand({rows, -1, -1}).contiguous();
    };
  }
  at::Tensor indicators;
  if (blending) {
    std::vector<at::Tensor> rows_words;
    for (const auto& words : alignment.blend) rows_words.push_back(floats(words, {alignment.tokens}));
    indicators = torch::stack(rows_words).to(model.device);
    options.after_step = [&](int, const sampling::StepOutput& out, const at::Tensor&) {
      return blend(out.prev_sample, controller, indicators, r.blend_threshold);
    };
  }
  const auto latents = denoise(model, *scheduler, start, uncond, cond, options);

  result.latents = latents.to(torch::kCPU);
  result.images = decode_latents(model, latents, r.vae_tiling, progress);
  if (r.attention_level >= 0) {
    const auto [gh, gw] = level_grid(latents.size(2), latents.size(3), r.attention_level);
    const auto summed = controller.summed_maps(r.attention_level);
    const auto divisor = static_cast<double>(controller.heads_per_step(r.attention_level)) * r.steps;
    result.maps = (summed / divisor).view({rows, gh, gw, alignment.tokens}).to(torch::kCPU);
  }
  return result;
}

}  // namespace vsp::pipeline
