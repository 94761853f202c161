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
    if (options.progress) options.progress({"denoise", i + 1 - options.first_step, steps - options.first_step, ""});
  }
  return latents;
}

SeededNoise::SeededNoise(std::vector<int64_t> latent_shape, c10::Device device)
    : latent_shape_(std::move(latent_shape)), device_(device) {}

void SeededNoise::add(uint64_t seed, int64_t rows) { add(at::detail::createCPUGenerator(seed), rows); }

void SeededNoise::add(at::Generator generator, int64_t rows) { parts_.emplace_back(std::move(generator), rows); }

void SeededNoise::replace(size_t part, at::Generator generator) { parts_.at(part).first = std::move(generator); }

at::Tensor SeededNoise::draw() {
  std::vector<at::Tensor> rows;
  for (auto& [generator, count] : parts_) {
    std::vector<int64_t> shape{count};
    shape.insert(shape.end(), latent_shape_.begin(), latent_shape_.end());
    rows.push_back(torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat)));
  }
  return torch::cat(rows).to(device_);
}

void SeededNoise::feed(sampling::Scheduler& scheduler, int64_t repeats) {
  if (!scheduler.adds_noise()) return;
  scheduler.set_step_noise([this, repeats] {
    const auto noise = draw();
    return repeats == 1 ? noise : noise.repeat({repeats, 1, 1, 1});
  });
}

}  // namespace vsp::pipeline
