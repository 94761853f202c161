#include "vsp/pipeline/denoise.hpp"

#include <torch/torch.h>

#include "vsp/attention/controller.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {

at::Tensor denoise(const models::Model& model, sampling::Scheduler& scheduler, at::Tensor latents,
                   const Conditioning& uncond, const Conditioning& cond, const DenoiseOptions& options) {
  PhaseClock clock("denoise", model.device);
  const auto& timesteps = scheduler.timesteps();
  const int steps = static_cast<int>(timesteps.size());
  bool guided = false;
  for (int i = options.first_step; i < steps; ++i) guided = guided || options.guidance_at(i) > 1.0;
  Denoiser denoiser(model, options.layout, latents.size(0), guided, options.controller);
  RowInputs inputs{uncond, cond, options.control};

  for (int i = options.first_step; i < steps; ++i) {
    if (options.before_unet) options.before_unet(i, latents, inputs);
    const auto input = scheduler.scale_model_input(latents, i);
    const auto eps = denoiser.predict(input, {i, steps, timesteps[i], options.guidance_at(i)}, inputs);
    const auto out = scheduler.step(eps, i, latents);
    latents = options.after_step ? options.after_step(i, out, latents) : out.prev_sample;
    if (options.progress) options.progress(i + 1 - options.first_step, steps - options.first_step);
  }
  return latents;
}

at::Tensor initial_noise(uint64_t seed, std::vector<int64_t> shape, const c10::Device& device) {
  auto generator = at::detail::createCPUGenerator(seed);
  return torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat)).to(device);
}

}  // namespace vsp::pipeline
