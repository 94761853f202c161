#pragma once
// The parts of a DDIM step shared by sampling (ddim.cpp, and lcm.cpp on the same alphabar grid)
// and inversion (ddim_inversion.cpp).
#include <ATen/core/Tensor.h>

#include <vector>

#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling::detail {

// alphabar at timestep, or, before the first training timestep, 1 (set_alpha_to_one) or alphabar_0.
at::Tensor alpha_before(const ScheduleConfig& config, const at::Tensor& alphas_cumprod, int64_t timestep);

// The DDIM timesteps index alphabar, so they must stay inside the training schedule (a leading grid
// with steps_offset reaches T at T steps); throws vsp::Error otherwise.
void check_timesteps_in_range(const ScheduleConfig& config, const std::vector<double>& timesteps);

struct Prediction {
  at::Tensor original;  // x0, clamped to [-1, 1] when config.clip_sample
  at::Tensor epsilon;
};

// x0 and eps from the model output at noise level alpha_prod_t, as diffusers' DDIM schedulers do.
Prediction predict_x0_and_eps(const ScheduleConfig& config, const at::Tensor& model_output, const at::Tensor& sample,
                              const at::Tensor& alpha_prod_t);

// diffusers' DDPM-style add_noise at an integer timestep: sqrt(abar) x0 + sqrt(1 - abar) noise.
at::Tensor add_noise_at(const at::Tensor& alphas_cumprod, int64_t timestep, const at::Tensor& original,
                        const at::Tensor& noise);

}  // namespace vsp::sampling::detail
