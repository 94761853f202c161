#include "vsp/sampling/ddim_inversion.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "ddim_common.hpp"
#include "noise_schedule.hpp"

namespace vsp::sampling {

DdimInversion::DdimInversion(const ScheduleConfig& config, InversionForm form)
    : config_(config), form_(form), alphas_cumprod_(detail::alphas_cumprod(config)) {}

void DdimInversion::set_timesteps(int num_inference_steps) {
  detail::check_step_count(config_, num_inference_steps);
  timesteps_ = detail::timestep_grid(config_, num_inference_steps, /*round_linspace=*/true);
  detail::check_timesteps_in_range(config_, timesteps_);
  std::reverse(timesteps_.begin(), timesteps_.end());
  step_ratio_ = config_.num_train_timesteps / num_inference_steps;
}

StepOutput DdimInversion::step(const at::Tensor& model_output, int step_index, const at::Tensor& sample) const {
  const auto timestep = static_cast<int64_t>(timesteps_.at(step_index));
  at::Tensor alpha_from, alpha_to;
  if (form_ == InversionForm::previous_level) {
    const auto source = std::min<int64_t>(timestep - step_ratio_, config_.num_train_timesteps - 1);
    alpha_from = detail::alpha_before(config_, alphas_cumprod_, source);
    alpha_to = alphas_cumprod_[timestep];
  } else {
    const bool last = step_index + 1 == static_cast<int>(timesteps_.size());
    const auto target = last ? config_.num_train_timesteps - 1 : static_cast<int64_t>(timesteps_[step_index + 1]);
    alpha_from = alphas_cumprod_[timestep];
    alpha_to = alphas_cumprod_[target];
  }
  const auto predicted = detail::predict_x0_and_eps(config_, model_output, sample, alpha_from);
  const auto direction = (1 - alpha_to).pow(0.5) * predicted.epsilon;
  return {alpha_to.pow(0.5) * predicted.original + direction, predicted.original};
}

}  // namespace vsp::sampling
