#include "vsp/pipeline/image_latents.hpp"

#include <torch/torch.h>

#include "vsp/models/model.hpp"
#include "vsp/pipeline/denoiser.hpp"
#include "vsp/pipeline/phases.hpp"
#include "vsp/sampling/ddim_inversion.hpp"

namespace vsp::pipeline {

LatentPosterior encode_posterior(const models::Model& model, const io::Image& image, int width, int height) {
  torch::InferenceMode guard;
  PhaseClock clock("vae-encode", model.device);
  const auto resized = io::resize(image, width, height);
  auto pixels = torch::from_blob(const_cast<uint8_t*>(resized.pixels.data()), {1, height, width, 3}, torch::kUInt8)
                    .permute({0, 3, 1, 2})
                    .to(torch::kFloat)
                    .div(255)
                    .mul(2)
                    .sub(1);
  auto outputs = model.vae_encoder()
                     .forward({pixels.to(model.device, model.vae_dtype).contiguous(at::MemoryFormat::ChannelsLast)})
                     .toTuple();
  const auto mean = outputs->elements()[0].toTensor().to(torch::kFloat);
  const auto std = (0.5 * outputs->elements()[1].toTensor().to(torch::kFloat)).exp();  // logvar, clamped
  return {mean, std, model.manifest.scaling_factor};
}

at::Tensor LatentPosterior::sample(at::Generator& generator) const {
  const auto eps = torch::randn(mean.sizes(), generator, torch::kFloat).to(mean.device());
  return (mean + std * eps) * scaling_factor;
}

at::Tensor encode_image(const models::Model& model, const io::Image& image, int width, int height,
                        at::Generator* sample) {
  const auto posterior = encode_posterior(model, image, width, height);
  return sample ? posterior.sample(*sample) : posterior.scaled_mean();
}

std::vector<at::Tensor> ddim_inversion_path(const models::Model& model, const sampling::ScheduleConfig& config,
                                            const at::Tensor& z0, const Conditioning& cond, int steps,
                                            const BranchLayout& layout, attention::AttentionController* controller,
                                            sampling::InversionForm form, const ProgressFn& progress) {
  torch::InferenceMode guard;
  sampling::DdimInversion inversion(config, form);
  inversion.set_timesteps(steps);
  Denoiser denoiser(model, layout, z0.size(0), false, controller);
  const RowInputs inputs{cond, cond};
  std::vector<at::Tensor> path{z0};
  for (int i = 0; i < steps; ++i) {
    const auto eps =
        denoiser.predict(path.back(), {i, steps, inversion.timesteps()[i], 1.0, attention::Phase::inversion}, inputs);
    path.push_back(inversion.step(eps, i, path.back()).prev_sample);
    if (progress) progress({"inversion", i + 1, steps, ""});
  }
  return path;
}

std::vector<at::Tensor> ddim_inversion_trajectory(const models::Model& model, const sampling::ScheduleConfig& config,
                                                  const at::Tensor& z0, const Conditioning& cond, int steps,
                                                  const ProgressFn& progress) {
  // The image's row runs alone in its own call (as a reference does).
  BranchLayout layout;
  layout.reference_rows = 1;
  layout.roles = {attention::RowRole::reference};
  const auto path = ddim_inversion_path(model, config, z0, cond, steps, layout, nullptr,
                                        sampling::InversionForm::previous_level, progress);
  return {path.rbegin(), path.rend() - 1};
}

}  // namespace vsp::pipeline
