#pragma once
// The training noise schedule and the timestep grids shared by the samplers. Each function
// reproduces the numpy/torch code of diffusers 0.42.1 operation by operation, so the grids and
// sigmas come out bit-identical to diffusers'.
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling::detail {

// alphabar_t for t = 0 .. num_train_timesteps-1, in float32 as diffusers keeps it (betas from
// torch.linspace in float32, squared for scaled_linear, then cumprod of 1 - beta).
at::Tensor alphas_cumprod(const ScheduleConfig& config);

// The k-diffusion noise level sqrt((1 - alphabar) / alphabar), elementwise in the input dtype.
at::Tensor sigmas_from_alphas_cumprod(const at::Tensor& alphas_cumprod);

// The descending timestep grid of count steps for config.timestep_spacing, in float64:
// leading  (arange(count) * (T // count)).round()[::-1] + steps_offset,
// trailing  arange(T, 0, -T / count).round() - 1,
// linspace  linspace(0, T - 1, count)[::-1], rounded when round_linspace (DDIM, DPM-Solver).
std::vector<double> timestep_grid(const ScheduleConfig& config, int count, bool round_linspace);

// np.interp(timesteps, arange(len(sigmas)), sigmas) in float64, for float32 training sigmas.
std::vector<double> interpolate_sigmas(const std::vector<double>& timesteps, const at::Tensor& training_sigmas);

// diffusers' _convert_to_karras: count sigmas from sigma_max down to sigma_min, evenly spaced in
// sigma^(1/7), in float64.
std::vector<double> karras_sigmas(double sigma_max, double sigma_min, int count);

// diffusers' _sigma_to_t: the fractional timestep where log(sigma) falls between the float32 training
// sigmas' logs, interpolated linearly (clamped to the table).
double sigma_to_timestep(double sigma, const at::Tensor& training_sigmas);

// The clean latent x0 the model predicts at the k-diffusion noise level sigma (x = x0 + sigma eps),
// from eps or, with "v_prediction", from v, as diffusers' Euler schedulers compute it.
at::Tensor predicted_original(const at::Tensor& model_output, const at::Tensor& sample, const at::Tensor& sigma,
                              const std::string& prediction_type);

// A 1-D float32 CPU tensor from doubles (the values are rounded to float32).
at::Tensor float_tensor(const std::vector<double>& values);
std::vector<double> to_doubles(const at::Tensor& values);

// The step count must fit the training schedule; throws vsp::Error otherwise.
void check_step_count(const ScheduleConfig& config, int num_inference_steps);

}  // namespace vsp::sampling::detail
