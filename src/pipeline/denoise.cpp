#include "vsp/pipeline/denoise.hpp"

#include <torch/torch.h>

#include "vsp/attention/controller.hpp"
#include "vsp/models/model.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {

at::Tensor denoise(const models::Model& model, sampling::Scheduler& scheduler, at::Tensor latents,
                   const text::Conditioning& uncond, const text::Conditioning& cond, const DenoiseOptions& options) {
  torch::InferenceMode guard;
  const bool guided = options.guidance > 1.0;
  const auto batch = guided ? text::Conditioning::cat({uncond, cond}) : cond;
  attention::ActiveScope scope(model.manifest.attention_layers, options.controller);

  const auto& timesteps = scheduler.timesteps();
  const int steps = static_cast<int>(timesteps.size());
  for (int i = 0; i < steps; ++i) {
    scope.set_step({i, steps, timesteps[i], guided ? 2 : 1});
    auto input = scheduler.scale_model_input(latents, i);
    if (guided) input = torch::cat({input, input});
    const auto t = torch::tensor(static_cast<float>(timesteps[i]), torch::TensorOptions().device(model.device));
    auto eps = model.unet.forward({input.to(model.dtype), t, batch.prompt_embeds, batch.pooled, batch.time_ids})
                   .toTensor()
                   .to(torch::kFloat);
    if (guided) {
      auto halves = eps.chunk(2);
      eps = halves[0] + options.guidance * (halves[1] - halves[0]);
    }
    latents = scheduler.step(eps, i, latents).prev_sample;
    if (options.progress) options.progress(i + 1, steps);
  }
  return latents;
}

at::Tensor initial_noise(uint64_t seed, std::vector<int64_t> shape, const c10::Device& device) {
  auto generator = at::detail::createCPUGenerator(seed);
  return torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat)).to(device);
}

at::Tensor decode_latents(const models::Model& model, const at::Tensor& latents) {
  torch::InferenceMode guard;
  const auto scaled = (latents / model.manifest.scaling_factor).to(model.vae_dtype);
  auto image = model.vae_decoder.forward({scaled}).toTensor().to(torch::kCPU, torch::kFloat);
  image = (image / 2 + 0.5).clamp(0, 1);
  return (image.permute({0, 2, 3, 1}) * 255).round().to(torch::kUInt8).contiguous();
}

}  // namespace vsp::pipeline
