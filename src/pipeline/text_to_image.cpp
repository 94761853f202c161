#include "vsp/pipeline/text_to_image.hpp"

#include <torch/torch.h>

#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {

namespace {

void check_shared(const TextToImageRequest& a, const TextToImageRequest& b) {
  if (a.width != b.width || a.height != b.height || a.steps != b.steps || a.cfg != b.cfg || a.sampler != b.sampler)
    throw Error("text_to_image: requests batched together need the same size, steps, cfg and sampler");
}

}  // namespace

TextToImagePlan prepare_text_to_image(const models::Manifest& manifest, TextToImageRequest r) {
  manifest.check_size(r.width, r.height);
  manifest.check_steps(r.steps);
  if (r.num < 1) throw UsageError("--num must be at least 1");
  auto schedule = sampling::ScheduleConfig::from_json(manifest.scheduler);
  return {std::move(r), std::move(schedule)};
}

std::vector<TextToImageResult> text_to_image(const models::Model& model, const std::vector<TextToImagePlan>& plans,
                                             int64_t batch_size, const ProgressFn& progress) {
  if (plans.empty()) return {};
  const auto& first = plans.front().request;
  const auto& m = model.manifest;
  torch::InferenceMode guard;

  const int64_t h = first.height / m.vae_scale_factor, w = first.width / m.vae_scale_factor;
  std::vector<Conditioning> conds, unconds;
  std::vector<at::Tensor> noise;
  for (const auto& plan : plans) {
    const auto& r = plan.request;
    check_shared(first, r);
    conds.push_back(encode_prompts(model, std::vector<std::string>(r.num, r.prompt), r.width, r.height));
    unconds.push_back(encode_negative(model, r.negative, r.num, r.width, r.height));
    noise.push_back(initial_noise(r.seed, {r.num, m.latent_channels, h, w}, model.device));
  }
  model.text_encoding_done();
  auto scheduler = sampling::make_scheduler(first.sampler, plans.front().schedule);
  scheduler->set_timesteps(first.steps);
  DenoiseOptions options;
  options.guidance = first.cfg;
  options.layout.batch_size = batch_size;
  options.progress = progress;
  if (first.control.active()) {
    if (plans.size() != 1) throw Error("text_to_image: a request with a ControlNet runs alone");
    options.control = control_input(first.control, std::vector<bool>(first.num, true), model.device);
  }
  const auto latents = denoise(model, *scheduler, torch::cat(noise) * scheduler->init_noise_sigma(),
                               Conditioning::cat(unconds), Conditioning::cat(conds), options);
  const auto cpu_latents = latents.to(torch::kCPU);
  std::vector<TextToImageResult> results;
  int64_t row = 0;
  for (const auto& plan : plans) {
    const auto& r = plan.request;
    results.push_back(
        {cpu_latents.narrow(0, row, r.num), decode_latents(model, latents.narrow(0, row, r.num), r.vae_tiling)});
    row += r.num;
  }
  return results;
}

}  // namespace vsp::pipeline
