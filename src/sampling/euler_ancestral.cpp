// Euler ancestral: diffusers' EulerAncestralDiscreteScheduler. Each step goes down to
// sigma_down by Euler, then adds fresh noise of sigma_up, with
// sigma_up = sqrt(sigma_to^2 (sigma_from^2 - sigma_to^2) / sigma_from^2), sigma_down = sqrt(sigma_to^2 - sigma_up^2).
// The sigmas, timesteps and input scaling are Euler's (linear interpolation, a final 0).
#include <torch/torch.h>

#include <stdexcept>

#include "noise_schedule.hpp"
#include "samplers.hpp"

namespace vsp::sampling::detail {
namespace {

class EulerAncestral final : public Scheduler {
 public:
  explicit EulerAncestral(const ScheduleConfig& config) : config_(config), euler_(make_euler(without_karras(config))) {}

  std::string name() const override { return "euler-a"; }
  bool adds_noise() const override { return true; }

  void set_timesteps(int num_inference_steps) override {
    euler_->set_timesteps(num_inference_steps);
    timesteps_ = euler_->timesteps();
    sigmas_ = euler_->sigmas();
    sigma_table_ = float_tensor(sigmas_);
  }

  double init_noise_sigma() const override { return euler_->init_noise_sigma(); }
  at::Tensor scale_model_input(const at::Tensor& sample, int step_index) const override {
    return euler_->scale_model_input(sample, step_index);
  }
  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int step_index) const override {
    return euler_->add_noise(original, noise, step_index);
  }

  StepOutput step(const at::Tensor& model_output, int step_index, const at::Tensor& sample_in) override {
    if (!step_noise_) throw std::logic_error("euler-a: no step noise source (Scheduler::set_step_noise)");
    const auto sample = sample_in.to(torch::kFloat);
    const auto sigma = sigma_table_[step_index];
    const auto pred_original_sample = predicted_original(model_output, sample, sigma, config_.prediction_type);
    const auto sigma_to = sigma_table_[step_index + 1];
    const auto sigma_up = (sigma_to.pow(2) * (sigma.pow(2) - sigma_to.pow(2)) / sigma.pow(2)).pow(0.5);
    const auto sigma_down = (sigma_to.pow(2) - sigma_up.pow(2)).pow(0.5);
    const auto derivative = (sample - pred_original_sample) / sigma;
    auto prev_sample = sample + derivative * (sigma_down - sigma);
    const auto noise = step_noise_();
    if (!noise.sizes().equals(model_output.sizes()))
      throw std::logic_error("euler-a: the step noise's shape is not the latents'");
    prev_sample = prev_sample + noise.to(prev_sample.device(), torch::kFloat) * sigma_up;
    return {prev_sample.to(model_output.scalar_type()), pred_original_sample};
  }

 private:
  static ScheduleConfig without_karras(ScheduleConfig config) {
    config.karras_sigmas = false;  // diffusers' ancestral Euler has no Karras option
    return config;
  }

  ScheduleConfig config_;
  std::unique_ptr<Scheduler> euler_;  // the grid, sigmas and scaling are Euler's
  at::Tensor sigma_table_;
};

}  // namespace

std::unique_ptr<Scheduler> make_euler_ancestral(const ScheduleConfig& config) {
  return std::make_unique<EulerAncestral>(config);
}

}  // namespace vsp::sampling::detail
