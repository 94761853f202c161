// Euler discrete: diffusers' EulerDiscreteScheduler with s_churn = 0 (no added noise), linear
// sigma interpolation (or Karras sigmas) and a final sigma of 0. Works in the k-diffusion parameterisation
// x = x0 + sigma * eps, with float32 timesteps and sigmas as diffusers keeps them.
#include <torch/torch.h>

#include "noise_schedule.hpp"
#include "samplers.hpp"

namespace vsp::sampling::detail {
namespace {

class EulerDiscrete final : public Scheduler {
 public:
  explicit EulerDiscrete(const ScheduleConfig& config)
      : config_(config), training_sigmas_(sigmas_from_alphas_cumprod(alphas_cumprod(config))) {}

  std::string name() const override { return config_.karras_sigmas ? "euler-karras" : "euler"; }

  void set_timesteps(int num_inference_steps) override {
    check_step_count(config_, num_inference_steps);
    const auto timesteps = float_tensor(timestep_grid(config_, num_inference_steps, /*round_linspace=*/false));
    timesteps_ = to_doubles(timesteps);
    auto sigmas = interpolate_sigmas(timesteps_, training_sigmas_);
    if (config_.karras_sigmas) {
      // Between the grid's first and last sigma; the UNet sees the timesteps those sigmas fall on.
      sigmas = karras_sigmas(sigmas.front(), sigmas.back(), num_inference_steps);
      std::vector<double> timesteps;
      for (double sigma : sigmas) timesteps.push_back(sigma_to_timestep(sigma, training_sigmas_));
      timesteps_ = to_doubles(float_tensor(timesteps));
    }
    sigmas.push_back(0.0);
    sigma_table_ = float_tensor(sigmas);
    sigmas_ = to_doubles(sigma_table_);
    // The leading spacing never reaches the largest training sigma, so diffusers scales the
    // initial noise to the variance of x at the first step instead.
    const auto max_sigma = sigma_table_.max();
    init_noise_sigma_ = config_.timestep_spacing == "leading" ? (max_sigma.pow(2) + 1).pow(0.5).item<double>()
                                                              : max_sigma.item<double>();
  }

  double init_noise_sigma() const override { return init_noise_sigma_; }

  at::Tensor scale_model_input(const at::Tensor& sample, int step_index) const override {
    const auto sigma = sigma_table_[step_index];
    return sample / (sigma.pow(2) + 1).pow(0.5);
  }

  StepOutput step(const at::Tensor& model_output, int step_index, const at::Tensor& sample_in) override {
    const auto sample = sample_in.to(torch::kFloat);
    // With s_churn = 0, sigma_hat = sigma.
    const auto sigma = sigma_table_[step_index];
    const auto pred_original_sample = predicted_original(model_output, sample, sigma, config_.prediction_type);
    const auto derivative = (sample - pred_original_sample) / sigma;
    const auto dt = sigma_table_[step_index + 1] - sigma;
    const auto prev_sample = (sample + derivative * dt).to(model_output.scalar_type());
    return {prev_sample, pred_original_sample};
  }

  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int step_index) const override {
    const auto sigma = sigma_table_.to(original.device(), original.scalar_type())[step_index];
    return original + noise * sigma;
  }

 private:
  ScheduleConfig config_;
  at::Tensor training_sigmas_;
  at::Tensor sigma_table_;  // float32, one per step plus the final 0
  double init_noise_sigma_ = 1.0;
};

}  // namespace

std::unique_ptr<Scheduler> make_euler(const ScheduleConfig& config) { return std::make_unique<EulerDiscrete>(config); }

}  // namespace vsp::sampling::detail
