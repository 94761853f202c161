// DDIM: diffusers' DDIMScheduler with eta = 0 (deterministic). Works in the variance-preserving
// parameterisation x_t = sqrt(alphabar_t) x0 + sqrt(1 - alphabar_t) eps, with integer timesteps.
#include <torch/torch.h>

#include "ddim_common.hpp"
#include "noise_schedule.hpp"
#include "samplers.hpp"

namespace vsp::sampling::detail {
namespace {

class Ddim final : public Scheduler {
 public:
  explicit Ddim(const ScheduleConfig& config) : config_(config), alphas_cumprod_(alphas_cumprod(config)) {}

  std::string name() const override { return "ddim"; }

  void set_timesteps(int num_inference_steps) override {
    check_step_count(config_, num_inference_steps);
    timesteps_ = timestep_grid(config_, num_inference_steps, /*round_linspace=*/true);
    check_timesteps_in_range(config_, timesteps_);
    // diffusers steps back by T // n whatever the spacing.
    step_ratio_ = config_.num_train_timesteps / num_inference_steps;
    std::vector<at::Tensor> alphas;
    for (double t : timesteps_) alphas.push_back(alphas_cumprod_[static_cast<int64_t>(t)]);
    alphas.push_back(alpha_before(config_, alphas_cumprod_, static_cast<int64_t>(timesteps_.back()) - step_ratio_));
    sigmas_ = to_doubles(sigmas_from_alphas_cumprod(torch::stack(alphas)));
  }

  double init_noise_sigma() const override { return 1.0; }

  at::Tensor scale_model_input(const at::Tensor& sample, int) const override { return sample; }

  StepOutput step(const at::Tensor& model_output, int step_index, const at::Tensor& sample) override {
    const auto timestep = static_cast<int64_t>(timesteps_.at(step_index));
    const auto alpha_prod_t = alphas_cumprod_[timestep];
    const auto alpha_prod_t_prev = alpha_before(config_, alphas_cumprod_, timestep - step_ratio_);
    const auto predicted = predict_x0_and_eps(config_, model_output, sample, alpha_prod_t);
    // eta = 0: the "direction pointing to x_t" takes all of 1 - alphabar_prev.
    const auto direction = (1 - alpha_prod_t_prev).pow(0.5) * predicted.epsilon;
    return {alpha_prod_t_prev.pow(0.5) * predicted.original + direction, predicted.original};
  }

  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int step_index) const override {
    return add_noise_at(alphas_cumprod_, static_cast<int64_t>(timesteps_.at(step_index)), original, noise);
  }

 private:
  ScheduleConfig config_;
  at::Tensor alphas_cumprod_;
  int64_t step_ratio_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_ddim(const ScheduleConfig& config) { return std::make_unique<Ddim>(config); }

}  // namespace vsp::sampling::detail
