#include "vsp/pipeline/transfer.hpp"

#include <torch/torch.h>

#include "vsp/attention/style_injection.hpp"
#include "vsp/config/selection.hpp"
#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/image_latents.hpp"
#include "vsp/pipeline/phases.hpp"
#include "vsp/sampling/ddim_inversion.hpp"
#include "vsp/sampling/scheduler.hpp"
#include "vsp/values.hpp"

namespace vsp::pipeline {

std::vector<std::string> transfer_layer_specs(const std::vector<std::string>& layers) {
  std::vector<std::string> specs;
  for (const auto& spec : layers) {
    if (spec == "default" || spec == "strong") specs.push_back("self[-6:]");
    if (spec != "default") specs.push_back(spec);
  }
  return specs;
}

at::Tensor adain_latent(const at::Tensor& content, const at::Tensor& style) {
  const auto mean = [](const at::Tensor& x) { return x.mean({2, 3}, true); };
  const auto std = [](const at::Tensor& x) { return x.std({2, 3}, /*unbiased=*/true, true); };
  return (content - mean(content)) / std(content) * std(style) + mean(style);
}

TransferPlan prepare_transfer(const models::Manifest& manifest, TransferRequest r) {
  manifest.check_size(r.width, r.height);
  manifest.check_steps(r.steps);
  if (!(r.gamma >= 0 && r.gamma <= 1)) throw UsageError("--gamma " + values::shown(r.gamma) + " must be from 0 to 1");
  if (!(r.tau > 0)) throw UsageError("--tau must be above 0, got " + values::shown(r.tau));
  if (r.start_step < 0 || r.start_step >= r.steps)
    throw UsageError("--start-step " + std::to_string(r.start_step) + " must be below --steps " +
                     std::to_string(r.steps));
  if (r.contents.empty() || r.styles.empty() || r.pairs.empty())
    throw UsageError("a transfer needs at least one content and one style picture");
  for (const auto& [content, style] : r.pairs)
    if (content < 0 || content >= static_cast<int64_t>(r.contents.size()) || style < 0 ||
        style >= static_cast<int64_t>(r.styles.size()))
      throw std::logic_error("transfer pair out of range");
  auto layers = attention::select_self_layers(manifest.attention_layers, transfer_layer_specs(r.layers));
  auto schedule = sampling::ScheduleConfig::from_json(manifest.scheduler);
  return {std::move(r), std::move(layers), std::move(schedule)};
}

io::Image read_transfer_picture(const std::filesystem::path& file, int width, int height) {
  return io::crop_to_fill(io::read_image(file), width, height, io::Filter::lanczos, io::CropRounding::half_to_even);
}

TransferResult style_injection(const models::Model& model, const TransferPlan& plan, const ProgressFn& progress) {
  const TransferRequest& r = plan.request;
  torch::InferenceMode guard;
  const auto& config = plan.schedule;
  TransferResult result;
  for (const auto& file : r.contents) result.pictures.push_back(read_transfer_picture(file, r.width, r.height));
  for (const auto& file : r.styles) result.pictures.push_back(read_transfer_picture(file, r.width, r.height));
  const auto contents = static_cast<int64_t>(r.contents.size());
  const auto images = contents + static_cast<int64_t>(r.styles.size());
  const auto pairs = static_cast<int64_t>(r.pairs.size());

  std::vector<at::Tensor> clean;
  for (const auto& picture : result.pictures) clean.push_back(encode_image(model, picture, r.width, r.height));
  const auto rows = r.injection && !r.cache_features ? images + pairs : pairs;
  // The empty prompt, unguided, for every row.
  const auto empty = encode_prompts(model, {""}, r.width, r.height, text::PromptSyntax::verbatim);
  model.text_encoding_done();

  std::vector<attention::StyleInjectionController::Pair> pair_rows;
  for (const auto& [content, style] : r.pairs) pair_rows.push_back({content, style});
  // Recompute: the image rows lead every sampling step; cache: the stylised rows run alone.
  const int64_t first_stylised = rows - pairs;
  std::unique_ptr<attention::StyleInjectionController> controller;
  if (r.injection)
    controller = std::make_unique<attention::StyleInjectionController>(plan.layers, r.gamma, r.tau, contents, pair_rows,
                                                                       first_stylised, r.cache_features);

  // Every picture inverted once, all in one call per step, contents first; in the official code's
  // form (ldm's encode_ddim), which ends at t = 999.
  BranchLayout image_layout;
  image_layout.reference_rows = images;
  image_layout.roles.assign(images, attention::RowRole::style);
  std::fill_n(image_layout.roles.begin(), contents, attention::RowRole::content);
  const auto path = [&] {
    PhaseClock clock("inversion", model.device);
    return ddim_inversion_path(model, config, torch::cat(clean), empty.repeat(images), r.steps, image_layout,
                               r.cache_features ? controller.get() : nullptr, sampling::InversionForm::own_level,
                               progress);
  }();

  std::vector<at::Tensor> starts;
  for (const auto& [content, style] : r.pairs) {
    const auto inverted_content = path.back().slice(0, content, content + 1);
    const auto inverted_style = path.back().slice(0, contents + style, contents + style + 1);
    starts.push_back(r.adain ? adain_latent(inverted_content, inverted_style) : inverted_content);
  }
  auto latents = torch::cat(starts);

  auto scheduler = sampling::make_scheduler("ddim", config);
  scheduler->set_timesteps(r.steps);
  DenoiseOptions options;
  options.guidance = 1.0;
  options.first_step = r.start_step;
  options.layout.batch_size = r.batch_size;
  options.progress = progress;
  options.controller = controller.get();
  if (first_stylised > 0) {
    // The image rows run first, at the latent their inversion fed the UNet at this timestep: the
    // features recorded there are the inversion's own.
    options.layout.reference_rows = first_stylised;
    options.layout.roles = image_layout.roles;
    latents = torch::cat({path.front(), latents});
    options.before_unet = [&](int step, at::Tensor& all, RowInputs&) {
      all.slice(0, 0, images).copy_(path.at(static_cast<size_t>(r.steps - 1 - step)));
    };
  }
  options.layout.roles.resize(static_cast<size_t>(rows), attention::RowRole::stylised);
  const auto cond = empty.repeat(rows);
  const auto final_latents = denoise(model, *scheduler, latents, cond, cond, options).slice(0, first_stylised);
  result.latents = final_latents.to(torch::kCPU);
  result.images = decode_latents(model, final_latents, r.vae_tiling, progress);
  return result;
}

}  // namespace vsp::pipeline
