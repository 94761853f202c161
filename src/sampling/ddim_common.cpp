#include "ddim_common.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "vsp/error.hpp"

namespace vsp::sampling::detail {

at::Tensor alpha_before(const ScheduleConfig& config, const at::Tensor& alphas_cumprod, int64_t timestep) {
  if (timestep >= 0) return alphas_cumprod[timestep];
  return config.set_alpha_to_one ? torch::scalar_tensor(1.0, torch::kFloat) : alphas_cumprod[0];
}

void check_timesteps_in_range(const ScheduleConfig& config, const std::vector<double>& timesteps) {
  const double last = *std::max_element(timesteps.begin(), timesteps.end());
  if (last >= config.num_train_timesteps)
    throw Error("ddim: " + std::to_string(timesteps.size()) + " steps with " + config.timestep_spacing +
                " spacing reach timestep " + std::to_string(static_cast<int>(last)) +
                ", past the training schedule; use fewer steps");
}

Prediction predict_x0_and_eps(const ScheduleConfig& config, const at::Tensor& model_output, const at::Tensor& sample,
                              const at::Tensor& alpha_prod_t) {
  const auto beta_prod_t = 1 - alpha_prod_t;
  Prediction predicted;
  if (config.prediction_type == "v_prediction") {
    predicted.original = alpha_prod_t.pow(0.5) * sample - beta_prod_t.pow(0.5) * model_output;
    predicted.epsilon = alpha_prod_t.pow(0.5) * model_output + beta_prod_t.pow(0.5) * sample;
  } else {
    predicted.original = (sample - beta_prod_t.pow(0.5) * model_output) / alpha_prod_t.pow(0.5);
    predicted.epsilon = model_output;
  }
  // diffusers clips x0 but keeps the unclipped eps (use_clipped_model_output = False).
  if (config.clip_sample) predicted.original = predicted.original.clamp(-1, 1);
  return predicted;
}

at::Tensor add_noise_at(const at::Tensor& alphas_cumprod, int64_t timestep, const at::Tensor& original,
                        const at::Tensor& noise) {
  const auto alpha_prod = alphas_cumprod.to(original.device(), original.scalar_type())[timestep];
  return alpha_prod.pow(0.5) * original + (1 - alpha_prod).pow(0.5) * noise;
}

}  // namespace vsp::sampling::detail
