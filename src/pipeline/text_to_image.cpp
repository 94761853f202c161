#include "vsp/pipeline/text_to_image.hpp"

#include <torch/torch.h>

#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {

TextToImageResult text_to_image(const models::Model& model, const TextToImageRequest& request,
                                const ProgressFn& progress) {
  const auto& m = model.manifest;
  m.check_size(request.width, request.height);
  if (request.steps < 1) throw Error("--steps must be at least 1");
  if (request.num < 1) throw Error("--num must be at least 1");
  torch::InferenceMode guard;

  auto scheduler = sampling::make_scheduler(request.sampler, sampling::ScheduleConfig::from_json(m.scheduler));
  scheduler->set_timesteps(request.steps);
  const std::vector<std::string> prompts(request.num, request.prompt);
  const auto cond = text::encode_prompts(model, prompts, request.width, request.height);
  const auto uncond = text::encode_negative(model, request.negative, request.num, request.width, request.height);

  const int64_t h = request.height / m.vae_scale_factor, w = request.width / m.vae_scale_factor;
  auto latents = initial_noise(request.seed, {request.num, m.latent_channels, h, w}, model.device) *
                 scheduler->init_noise_sigma();
  DenoiseOptions options;
  options.guidance = request.cfg;
  options.progress = progress;
  latents = denoise(model, *scheduler, latents, uncond, cond, options);
  return {latents.to(torch::kCPU), decode_latents(model, latents)};
}

}  // namespace vsp::pipeline
