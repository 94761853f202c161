// LCM: diffusers' LCMScheduler for latent consistency models (LCM-LoRA, or a UNet with an LCM
// distillation fused in). Its timesteps are n evenly spaced indices into the distillation's 50-step
// grid (original_inference_steps, diffusers' default; timestep_spacing does not apply); each step
// maps the model's x0 through the consistency boundary condition, then noises it afresh to the next
// timestep with the run's generators.
#include <torch/torch.h>

#include <cmath>

#include "ddim_common.hpp"
#include "noise_schedule.hpp"
#include "samplers.hpp"
#include "vsp/error.hpp"

namespace vsp::sampling::detail {
namespace {

constexpr int kOriginalSteps = 50;
constexpr double kTimestepScaling = 10.0;
constexpr double kSigmaData = 0.5;

class Lcm final : public Scheduler {
 public:
  explicit Lcm(const ScheduleConfig& config) : config_(config), alphas_cumprod_(alphas_cumprod(config)) {}

  std::string name() const override { return "lcm"; }
  bool adds_noise() const override { return true; }

  void set_timesteps(int num_inference_steps) override {
    check_step_count(config_, num_inference_steps);
    if (num_inference_steps > kOriginalSteps)
      throw UsageError("lcm runs at most " + std::to_string(kOriginalSteps) + " steps (its distillation grid), got " +
                       std::to_string(num_inference_steps) + "; lower --steps (LCM models use 2-8)");
    const int stride = config_.num_train_timesteps / kOriginalSteps;
    timesteps_.clear();
    for (int i = 0; i < num_inference_steps; ++i) {
      const int index = static_cast<int>(std::floor(static_cast<double>(kOriginalSteps) * i / num_inference_steps));
      timesteps_.push_back(static_cast<double>((kOriginalSteps - index) * stride - 1));
    }
    std::vector<at::Tensor> alphas;
    for (double t : timesteps_) alphas.push_back(alphas_cumprod_[static_cast<int64_t>(t)]);
    sigmas_ = to_doubles(sigmas_from_alphas_cumprod(torch::stack(alphas)));
    sigmas_.push_back(0.0);  // the last step returns the denoised sample
  }

  double init_noise_sigma() const override { return 1.0; }

  at::Tensor scale_model_input(const at::Tensor& sample, int) const override { return sample; }

  StepOutput step(const at::Tensor& model_output, int step_index, const at::Tensor& sample) override {
    const auto timestep = static_cast<int64_t>(timesteps_.at(step_index));
    const auto alpha_prod_t = alphas_cumprod_[timestep];
    const auto beta_prod_t = 1 - alpha_prod_t;
    auto x0 = config_.prediction_type == "v_prediction"
                  ? alpha_prod_t.sqrt() * sample - beta_prod_t.sqrt() * model_output
                  : (sample - beta_prod_t.sqrt() * model_output) / alpha_prod_t.sqrt();
    if (config_.clip_sample) x0 = x0.clamp(-1, 1);
    // The consistency model's boundary condition at the scaled timestep, in float32 as diffusers
    // computes it (its timestep is a tensor).
    const auto scaled = torch::tensor(static_cast<float>(timestep)) * kTimestepScaling;
    const auto c_skip = kSigmaData * kSigmaData / (scaled.pow(2) + kSigmaData * kSigmaData);
    const auto c_out = scaled / (scaled.pow(2) + kSigmaData * kSigmaData).pow(0.5);
    const auto denoised = c_out.to(x0.device()) * x0 + c_skip.to(x0.device()) * sample;
    if (step_index == static_cast<int>(timesteps_.size()) - 1) return {denoised, denoised};
    if (!step_noise_) throw std::logic_error("lcm: no step noise source (Scheduler::set_step_noise)");
    const auto alpha_prod_prev = alphas_cumprod_[static_cast<int64_t>(timesteps_[step_index + 1])];
    const auto noise = step_noise_().to(denoised.device(), denoised.scalar_type());
    return {alpha_prod_prev.sqrt() * denoised + (1 - alpha_prod_prev).sqrt() * noise, denoised};
  }

  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int step_index) const override {
    return add_noise_at(alphas_cumprod_, static_cast<int64_t>(timesteps_.at(step_index)), original, noise);
  }

 private:
  ScheduleConfig config_;
  at::Tensor alphas_cumprod_;
};

}  // namespace

std::unique_ptr<Scheduler> make_lcm(const ScheduleConfig& config) { return std::make_unique<Lcm>(config); }

}  // namespace vsp::sampling::detail
