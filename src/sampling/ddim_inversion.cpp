#include "vsp/sampling/ddim_inversion.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "ddim_common.hpp"
#include "noise_schedule.hpp"

namespace vsp::sampling {

DdimInversion::DdimInversion(const ScheduleConfig& config)
    : config_(config), alphas_cumprod_(detail::alphas_cumprod(config)) {}

void DdimInversion::set_timesteps(int num_inference_steps) {
  detail::check_step_count(config_, num_inference_steps);
  timesteps_ = detail::timestep_grid(config_, num_inference_steps, /*round_linspace=*/true);
  detail::check_timesteps_in_range(config_, timesteps_);
  std::reverse(timesteps_.begin(), timesteps_.end());
  step_ratio_ = config_.num_train_timesteps / num_inference_steps;
}

StepOutput DdimInversion::step(const at::Tensor& model_output, int step_index, const at::Tensor& sample) const {
  const auto timestep = static_cast<int64_t>(timesteps_.at(step_index));
  const auto source = std::min<int64_t>(timestep - step_ratio_, config_.num_train_timesteps - 1);
  const auto alpha_prod_s = detail::alpha_before(config_, alphas_cumprod_, source);
  const auto alpha_prod_t = alphas_cumprod_[timestep];
  const auto predicted = detail::predict_x0_and_eps(config_, model_output, sample, alpha_prod_s);
  const auto direction = (1 - alpha_prod_t).pow(0.5) * predicted.epsilon;
  return {alpha_prod_t.pow(0.5) * predicted.original + direction, predicted.original};
}

}  // namespace vsp::sampling
