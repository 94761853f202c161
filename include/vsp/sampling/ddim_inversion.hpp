#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling {

// DDIM inversion: walks a clean latent up the DDIM timesteps (ascending), the same update as
// diffusers' DDIMInverseScheduler and prompt-to-prompt's null-text inversion (next_step). At step i,
// with t = timesteps()[i] and s = t - T // n, the UNet sees the current latent x_s at timestep t and
// predicts eps; then
//   x0  = (x_s - sqrt(1 - alphabar_s) eps) / sqrt(alphabar_s)
//   x_t = sqrt(alphabar_t) x0 + sqrt(1 - alphabar_t) eps
// where alphabar_s is 1 (set_alpha_to_one) or alphabar_0 when s < 0 (v_prediction converts
// the output to x0 and eps as DDIM does). Running DDIM sampling over the reversed timesteps
// with the same eps retraces the path.
class DdimInversion {
 public:
  explicit DdimInversion(const ScheduleConfig& config);
  void set_timesteps(int num_inference_steps);
  // The DDIM sampling timesteps in ascending order; the UNet sees timesteps()[i] at step i.
  const std::vector<double>& timesteps() const { return timesteps_; }
  // x_t from x_s; pred_original_sample is x0 above.
  StepOutput step(const at::Tensor& model_output, int step_index, const at::Tensor& sample) const;

 private:
  ScheduleConfig config_;
  at::Tensor alphas_cumprod_;
  std::vector<double> timesteps_;
  int64_t step_ratio_ = 0;
};

}  // namespace vsp::sampling
