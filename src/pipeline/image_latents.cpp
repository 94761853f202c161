#include "vsp/pipeline/image_latents.hpp"

#include <torch/torch.h>

#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"
#include "vsp/sampling/ddim_inversion.hpp"

namespace vsp::pipeline {

at::Tensor encode_image(const models::Model& model, const io::Image& image, int width, int height) {
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
                     .forward({pixels.to(model.device, model.vae_dtype).contiguous(at::MemoryFormat::ChannelsLast)}).toTuple();
  const auto mean = outputs->elements()[0].toTensor().to(torch::kFloat);
  return mean * model.manifest.scaling_factor;
}

std::vector<at::Tensor> ddim_inversion_trajectory(const models::Model& model, const sampling::ScheduleConfig& config,
                                                  const at::Tensor& z0, const text::Conditioning& cond, int steps) {
  torch::InferenceMode guard;
  sampling::DdimInversion inversion(config);
  inversion.set_timesteps(steps);
  std::vector<at::Tensor> ascending;
  auto latent = z0;
  for (int i = 0; i < steps; ++i) {
    const auto t = torch::tensor(static_cast<float>(inversion.timesteps()[i]), torch::TensorOptions().device(model.device));
    const auto eps = model.unet.forward({latent.to(model.dtype), t, cond.prompt_embeds, cond.pooled, cond.time_ids})
                         .toTensor()
                         .to(torch::kFloat);
    latent = inversion.step(eps, i, latent).prev_sample;
    ascending.push_back(latent);
  }
  return {ascending.rbegin(), ascending.rend()};
}

}  // namespace vsp::pipeline
