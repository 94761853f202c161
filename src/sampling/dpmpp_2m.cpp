// DPM++ 2M: diffusers' DPMSolverMultistepScheduler with algorithm_type "dpmsolver++", solver_order 2,
// solver_type "midpoint", lower_order_final, final_sigmas_type "zero" and euler_at_final off, on
// the timestep grid's sigmas or Karras sigmas.
// The first and the last step are first order (DDIM-like); the others combine the data
// predictions of the current and the previous step. The history makes it stateful per run.
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "noise_schedule.hpp"
#include "samplers.hpp"

namespace vsp::sampling::detail {
namespace {

struct NoiseLevel {
  at::Tensor alpha;   // 1 / sqrt(sigma^2 + 1)
  at::Tensor sigma;   // sigma * alpha
  at::Tensor lambda;  // log(alpha) - log(sigma): the log signal-to-noise ratio
};

NoiseLevel noise_level(const at::Tensor& k_sigma) {
  const auto alpha = (k_sigma.pow(2) + 1).pow(0.5).reciprocal();
  const auto sigma = k_sigma * alpha;
  return {alpha, sigma, torch::log(alpha) - torch::log(sigma)};
}

class DpmppTwoM final : public Scheduler {
 public:
  explicit DpmppTwoM(const ScheduleConfig& config)
      : config_(config), training_sigmas_(sigmas_from_alphas_cumprod(alphas_cumprod(config))) {}

  std::string name() const override { return config_.karras_sigmas ? "dpmpp2m-karras" : "dpmpp2m"; }

  void set_timesteps(int num_inference_steps) override {
    check_step_count(config_, num_inference_steps);
    std::vector<double> sigmas;
    if (config_.karras_sigmas) {
      // Over the whole training range; the UNet sees the rounded timesteps those sigmas fall on.
      const auto training = to_doubles(training_sigmas_);
      sigmas = karras_sigmas(training.back(), training.front(), num_inference_steps);
      timesteps_.clear();
      for (double sigma : sigmas) timesteps_.push_back(std::nearbyint(sigma_to_timestep(sigma, training_sigmas_)));
    } else {
      // diffusers builds the leading and linspace grids with one step more and drops the last (t = 0 side).
      if (config_.timestep_spacing == "trailing") {
        timesteps_ = timestep_grid(config_, num_inference_steps, /*round_linspace=*/true);
      } else {
        timesteps_ = timestep_grid(config_, num_inference_steps + 1, /*round_linspace=*/true);
        timesteps_.pop_back();
      }
      sigmas = interpolate_sigmas(timesteps_, training_sigmas_);
    }
    sigmas.push_back(0.0);
    sigma_table_ = float_tensor(sigmas);
    sigmas_ = to_doubles(sigma_table_);
    data_predictions_.clear();
    next_step_ = -1;
    restarting_ = at::Tensor();
  }

  double init_noise_sigma() const override { return 1.0; }

  at::Tensor scale_model_input(const at::Tensor& sample, int) const override { return sample; }

  StepOutput step(const at::Tensor& model_output, int step_index, const at::Tensor& sample_in) override {
    // The first step may be any (img2img and StyleID begin late, as diffusers' set_begin_index); the
    // rest follow it in order.
    if (next_step_ >= 0 && step_index != next_step_)
      throw std::logic_error("dpmpp2m: step " + std::to_string(step_index) + " called, expected " +
                             std::to_string(next_step_) + " (steps must run in order after set_timesteps)");
    const auto x0 = data_prediction(model_output, sample_in, step_index);
    data_predictions_.push_back(x0);
    if (data_predictions_.size() > 2) data_predictions_.erase(data_predictions_.begin());
    if (restarting_.defined() && data_predictions_.size() == 2) {
      // The previous prediction equal to this one makes the second-order step the first-order one.
      const auto rows = restarting_.to(x0.device()).view({-1, 1, 1, 1});
      data_predictions_.front() = torch::where(rows, x0, data_predictions_.front());
    }
    restarting_ = at::Tensor();

    const auto sample = sample_in.to(torch::kFloat);
    const bool last_step = step_index == static_cast<int>(timesteps_.size()) - 1;
    const auto prev_sample = data_predictions_.size() < 2 || last_step ? first_order(x0, sample, step_index)
                                                                       : second_order(sample, step_index);
    next_step_ = step_index + 1;
    return {prev_sample.to(x0.scalar_type()), x0};
  }

  void restart_rows(const at::Tensor& rows) override { restarting_ = rows; }

  at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int step_index) const override {
    const auto level = noise_level(sigma_table_.to(original.device(), original.scalar_type())[step_index]);
    return level.alpha * original + level.sigma * noise;
  }

 private:
  // diffusers' convert_model_output: DPM-Solver++ integrates the data (x0) prediction.
  at::Tensor data_prediction(const at::Tensor& model_output, const at::Tensor& sample, int step_index) const {
    const auto level = noise_level(sigma_table_[step_index]);
    if (config_.prediction_type == "v_prediction") return level.alpha * sample - level.sigma * model_output;
    return (sample - level.sigma * model_output) / level.alpha;
  }

  at::Tensor first_order(const at::Tensor& x0, const at::Tensor& sample, int step_index) const {
    const auto t = noise_level(sigma_table_[step_index + 1]);
    const auto s = noise_level(sigma_table_[step_index]);
    const auto h = t.lambda - s.lambda;
    return (t.sigma / s.sigma) * sample - (t.alpha * (torch::exp(-h) - 1.0)) * x0;
  }

  // The multistep midpoint update with D1 = (m0 - m1) / r0, r0 = h_previous / h.
  at::Tensor second_order(const at::Tensor& sample, int step_index) const {
    const auto t = noise_level(sigma_table_[step_index + 1]);
    const auto s0 = noise_level(sigma_table_[step_index]);
    const auto s1 = noise_level(sigma_table_[step_index - 1]);
    const auto& m0 = data_predictions_[1];
    const auto& m1 = data_predictions_[0];
    const auto h = t.lambda - s0.lambda;
    const auto h_0 = s0.lambda - s1.lambda;
    const auto r0 = h_0 / h;
    const auto d1 = r0.reciprocal() * (m0 - m1);
    return (t.sigma / s0.sigma) * sample - (t.alpha * (torch::exp(-h) - 1.0)) * m0 -
           0.5 * (t.alpha * (torch::exp(-h) - 1.0)) * d1;
  }

  ScheduleConfig config_;
  at::Tensor training_sigmas_;
  at::Tensor sigma_table_;                    // float32, one per step plus the final 0
  std::vector<at::Tensor> data_predictions_;  // the previous and the current x0, oldest first
  int next_step_ = -1;                        // -1: no step yet
  at::Tensor restarting_;                     // rows whose next step is their first (restart_rows)
};

}  // namespace

std::unique_ptr<Scheduler> make_dpmpp_2m(const ScheduleConfig& config) { return std::make_unique<DpmppTwoM>(config); }

}  // namespace vsp::sampling::detail
