#include "noise_schedule.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "vsp/error.hpp"

namespace vsp::sampling::detail {
namespace {

// np.arange(start, stop, step) for a float step: numpy computes the first two values and then
// fills start + i * (second - start), so the effective step is rounded once more.
std::vector<double> np_arange(double start, double stop, double step) {
  const double length = std::ceil((stop - start) / step);
  std::vector<double> values;
  if (length <= 0) return values;
  values.push_back(start);
  if (length > 1) values.push_back(start + step);
  const double fill_step = length > 1 ? values[1] - start : 0.0;
  for (int64_t i = 2; i < static_cast<int64_t>(length); ++i)
    values.push_back(start + static_cast<double>(i) * fill_step);
  return values;
}

// np.linspace(start, stop, count) in float64.
std::vector<double> np_linspace(double start, double stop, int count) {
  std::vector<double> values(count);
  const int div = count - 1;
  const double delta = stop - start;
  const double step = div > 0 ? delta / div : 0.0;
  for (int i = 0; i < count; ++i) {
    double y = static_cast<double>(i);
    if (div <= 0)
      y = y * delta;
    else if (step == 0)
      y = y / div * delta;
    else
      y = y * step;
    values[i] = y + start;
  }
  if (count > 1) values.back() = stop;
  return values;
}

// np.round: half to even, which std::nearbyint does in the default rounding mode.
double np_round(double value) { return std::nearbyint(value); }

}  // namespace

at::Tensor alphas_cumprod(const ScheduleConfig& config) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat);
  at::Tensor betas;
  if (config.beta_schedule == "linear")
    betas = torch::linspace(config.beta_start, config.beta_end, config.num_train_timesteps, f32);
  else
    betas = torch::linspace(std::pow(config.beta_start, 0.5), std::pow(config.beta_end, 0.5),
                            config.num_train_timesteps, f32)
                .pow(2);
  return torch::cumprod(1.0 - betas, 0);
}

at::Tensor sigmas_from_alphas_cumprod(const at::Tensor& alphas_cumprod) {
  return ((1 - alphas_cumprod) / alphas_cumprod).pow(0.5);
}

std::vector<double> timestep_grid(const ScheduleConfig& config, int count, bool round_linspace) {
  const int train_steps = config.num_train_timesteps;
  std::vector<double> grid;
  if (config.timestep_spacing == "leading") {
    const int ratio = train_steps / count;
    for (int i = count - 1; i >= 0; --i) grid.push_back(static_cast<double>(i) * ratio + config.steps_offset);
  } else if (config.timestep_spacing == "trailing") {
    for (double t : np_arange(train_steps, 0, -static_cast<double>(train_steps) / count))
      grid.push_back(np_round(t) - 1);
  } else {
    const auto ascending = np_linspace(0, train_steps - 1, count);
    for (auto t = ascending.rbegin(); t != ascending.rend(); ++t) grid.push_back(round_linspace ? np_round(*t) : *t);
  }
  return grid;
}

std::vector<double> interpolate_sigmas(const std::vector<double>& timesteps, const at::Tensor& training_sigmas) {
  const auto table = to_doubles(training_sigmas);
  const auto last = static_cast<int64_t>(table.size()) - 1;
  std::vector<double> sigmas;
  for (double t : timesteps) {
    // numpy's interp on the grid xp = 0, 1, ..., last.
    if (t <= 0)
      sigmas.push_back(table.front());
    else if (t >= static_cast<double>(last))
      sigmas.push_back(table.back());
    else {
      const auto j = static_cast<int64_t>(std::floor(t));
      const double slope = table[j + 1] - table[j];  // the xp spacing is 1
      sigmas.push_back(t == static_cast<double>(j) ? table[j] : slope * (t - static_cast<double>(j)) + table[j]);
    }
  }
  return sigmas;
}

std::vector<double> karras_sigmas(double sigma_max, double sigma_min, int count) {
  constexpr double rho = 7.0;
  const double max_inv_rho = std::pow(sigma_max, 1 / rho), min_inv_rho = std::pow(sigma_min, 1 / rho);
  std::vector<double> sigmas;
  for (double ramp : np_linspace(0, 1, count))
    sigmas.push_back(std::pow(max_inv_rho + ramp * (min_inv_rho - max_inv_rho), rho));
  return sigmas;
}

double sigma_to_timestep(double sigma, const at::Tensor& training_sigmas) {
  // numpy takes the logs in float32, as the sigmas are.
  const auto log_sigmas = to_doubles(training_sigmas.log());
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  // The last index whose log sigma is at most log_sigma (0 if none), kept below the table's end.
  size_t low = 0;
  for (size_t i = 0; i < log_sigmas.size(); ++i)
    if (log_sigma - log_sigmas[i] >= 0) low = i;
  low = std::min(low, log_sigmas.size() - 2);
  const double w = std::clamp((log_sigmas[low] - log_sigma) / (log_sigmas[low] - log_sigmas[low + 1]), 0.0, 1.0);
  return (1 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

at::Tensor predicted_original(const at::Tensor& model_output, const at::Tensor& sample, const at::Tensor& sigma,
                              const std::string& prediction_type) {
  if (prediction_type == "v_prediction")
    return model_output * (-sigma / (sigma.pow(2) + 1).pow(0.5)) + (sample / (sigma.pow(2) + 1));
  return sample - sigma * model_output;
}

at::Tensor float_tensor(const std::vector<double>& values) {
  return torch::tensor(values, torch::TensorOptions().dtype(torch::kDouble)).to(torch::kFloat);
}

std::vector<double> to_doubles(const at::Tensor& values) {
  const auto flat = values.to(torch::kCPU, torch::kDouble).contiguous();
  return {flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel()};
}

void check_step_count(const ScheduleConfig& config, int num_inference_steps) {
  if (num_inference_steps < 1 || num_inference_steps > config.num_train_timesteps)
    throw Error("the number of sampling steps is " + std::to_string(num_inference_steps) + "; choose between 1 and " +
                std::to_string(config.num_train_timesteps));
}

}  // namespace vsp::sampling::detail
