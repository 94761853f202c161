#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "vsp/io/image.hpp"
#include "vsp/text/conditioning.hpp"

namespace vsp::models {
struct Model;
}
namespace vsp::sampling {
struct ScheduleConfig;
}

namespace vsp::pipeline {

// A picture resized to width x height, VAE-encoded (the distribution's mean, deterministic) and
// scaled: the clean latent z0, float32 [1, C, h, w] on the model's device.
at::Tensor encode_image(const models::Model& model, const io::Image& image, int width, int height);

// DDIM inversion of z0 over `steps` steps with the given conditioning and no CFG. Element i is
// the latent at the i-th sampling timestep (descending order, as the sampler visits them).
std::vector<at::Tensor> ddim_inversion_trajectory(const models::Model& model, const sampling::ScheduleConfig& config,
                                                  const at::Tensor& z0, const text::Conditioning& cond, int steps);

}  // namespace vsp::pipeline
