#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "vsp/io/image.hpp"
#include "vsp/pipeline/conditioning.hpp"
#include "vsp/pipeline/denoiser.hpp"
#include "vsp/pipeline/progress.hpp"
#include "vsp/sampling/ddim_inversion.hpp"

namespace vsp::models {
struct Model;
}

namespace vsp::pipeline {

// The VAE's distribution of a picture's latent, before the scaling factor: float32 [1, C, h, w] on
// the model's device.
struct LatentPosterior {
  at::Tensor mean;
  at::Tensor std;
  double scaling_factor = 1;
  at::Tensor scaled_mean() const { return mean * scaling_factor; }
  // (mean + std * randn(generator)) * scaling_factor, as diffusers' img2img pipelines take it.
  at::Tensor sample(at::Generator& generator) const;
};

// A picture resized to width x height and VAE-encoded.
LatentPosterior encode_posterior(const models::Model& model, const io::Image& image, int width, int height);
// Its clean latent z0: without a generator, the distribution's mean (deterministic); with one, a sample.
at::Tensor encode_image(const models::Model& model, const io::Image& image, int width, int height,
                        at::Generator* sample = nullptr);

// DDIM inversion of the rows of z0 together (their own UNet calls, laid out by `layout`, unguided,
// `controller` active: it may record the rows' attention) over `steps` steps, in `form`. Returns
// x_0 .. x_N: element i is the UNet's input at inversion step i (timestep timesteps()[i], ascending),
// the last the fully inverted latent.
std::vector<at::Tensor> ddim_inversion_path(const models::Model& model, const sampling::ScheduleConfig& config,
                                            const at::Tensor& z0, const Conditioning& cond, int steps,
                                            const BranchLayout& layout, attention::AttentionController* controller,
                                            sampling::InversionForm form = sampling::InversionForm::previous_level,
                                            const ProgressFn& progress = {});
// DDIM inversion of one image's z0 with no controller. Element i is the latent at the i-th sampling
// timestep (descending order, as the sampler visits them).
std::vector<at::Tensor> ddim_inversion_trajectory(const models::Model& model, const sampling::ScheduleConfig& config,
                                                  const at::Tensor& z0, const Conditioning& cond, int steps,
                                                  const ProgressFn& progress = {});

}  // namespace vsp::pipeline
