#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling {

// Where the UNet's input sits when it sees timestep t at inversion step i. The two forms the
// methods' official code use; both walk the DDIM timesteps t_0 < t_1 < ... < t_{n-1} (ascending).
enum class InversionForm {
  // diffusers' DDIMInverseScheduler and prompt-to-prompt's null-text inversion (next_step): the UNet
  // sees x_s, s = t - T // n, at timestep t, and the step moves it to t. The path ends at t_{n-1}.
  previous_level,
  // ldm's encode_ddim, which StyleID's official code runs: the UNet sees x_t at its own timestep t
  // (the clean latent enters as x_{t_0}), and the step moves it to the next timestep, the last one
  // to T - 1 (999). The path ends at T - 1.
  own_level,
};

// DDIM inversion. At step i, from the UNet input x_a (noise level a) and its eps prediction,
//   x0  = (x_a - sqrt(1 - alphabar_a) eps) / sqrt(alphabar_a)
//   x_b = sqrt(alphabar_b) x0 + sqrt(1 - alphabar_b) eps
// with (a, b) = (s, t) or (t, next) as the form says; alphabar before timestep 0 is 1
// (set_alpha_to_one) or alphabar_0 (v_prediction converts the output to x0 and eps as DDIM does).
// In the previous-level form, DDIM sampling over the reversed timesteps with the same eps retraces
// the path.
class DdimInversion {
 public:
  explicit DdimInversion(const ScheduleConfig& config, InversionForm form = InversionForm::previous_level);
  void set_timesteps(int num_inference_steps);
  // The DDIM sampling timesteps in ascending order; the UNet sees timesteps()[i] at step i.
  const std::vector<double>& timesteps() const { return timesteps_; }
  // x_b from x_a; pred_original_sample is x0 above.
  StepOutput step(const at::Tensor& model_output, int step_index, const at::Tensor& sample) const;

 private:
  ScheduleConfig config_;
  InversionForm form_;
  at::Tensor alphas_cumprod_;
  std::vector<double> timesteps_;
  int64_t step_ratio_ = 0;
};

}  // namespace vsp::sampling
