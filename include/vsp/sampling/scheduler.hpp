#pragma once
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "vsp/config/sampler_names.hpp"

namespace vsp::sampling {

// The training noise schedule and the sampling options of a diffusers scheduler config
// (the manifest carries it as "scheduler").
struct ScheduleConfig {
  int num_train_timesteps = 1000;
  double beta_start = 0.00085;
  double beta_end = 0.012;
  std::string beta_schedule = "scaled_linear";  // or "linear"
  std::string timestep_spacing = "leading";     // "leading", "trailing" or "linspace"
  int steps_offset = 1;
  std::string prediction_type = "epsilon";  // or "v_prediction"
  bool set_alpha_to_one = false;            // DDIM's final alpha
  bool clip_sample = false;                 // DDIM clamps its x0 prediction to [-1, 1]
  // Euler and DPM++ 2M: Karras et al.'s sigmas (rho 7) instead of the timestep grid's, as diffusers'
  // use_karras_sigmas; the "-karras" sampler names set it.
  bool karras_sigmas = false;

  // Reads a diffusers scheduler config dict (the SDXL one is EulerDiscreteScheduler's). Unknown keys
  // are ignored. A missing key takes diffusers' constructor default, which is the same for all three
  // samplers (so, as in diffusers, DDIM clips when clip_sample is absent); timestep_spacing, whose
  // default differs between them, is required. Known options this runtime does not implement
  // (Karras sigmas, thresholding, ...) are refused with a vsp::Error.
  static ScheduleConfig from_json(const nlohmann::json& config);
};

struct StepOutput {
  at::Tensor prev_sample;
  at::Tensor pred_original_sample;  // the predicted clean latent x0
};

// One sampler, with the same formulas as its diffusers counterpart. The caller walks
// step_index = 0 .. timesteps().size()-1 and calls step() once per index, in order.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::string name() const = 0;
  virtual void set_timesteps(int num_inference_steps) = 0;
  // The timesteps the UNet sees, one per step (float, on the 1000-step training scale).
  const std::vector<double>& timesteps() const { return timesteps_; }
  // sigma_t = sqrt((1 - alphabar_t) / alphabar_t) per step plus the sigma the last step lands on
  // (k-diffusion view): 0 for Euler and DPM++ 2M; for DDIM, the sigma of alphabar at t_last - T/n
  // (where alphabar is 1 or alphabar_0 when that is before t = 0).
  const std::vector<double>& sigmas() const { return sigmas_; }
  virtual double init_noise_sigma() const = 0;
  virtual at::Tensor scale_model_input(const at::Tensor& sample, int step_index) const = 0;
  virtual StepOutput step(const at::Tensor& model_output, int step_index, const at::Tensor& sample) = 0;
  // Forward-noise a clean latent to the noise level of step_index (diffusers' add_noise).
  virtual at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, int step_index) const = 0;

  // Rows that begin at the next step (targets of a style run that start from a picture, while the
  // reference row goes on): a sampler with a history (DPM++ 2M) takes that step for them as its
  // first, as a scheduler begun there would. rows: bool [rows]. Samplers without one ignore it.
  virtual void restart_rows(const at::Tensor& rows) { (void)rows; }

  // A sampler that adds fresh noise at each step (Euler a) draws it here, shaped like the latents,
  // from the generators that drew the initial noise (as diffusers passes its generator on); the
  // pipeline sets it. Such a sampler without one throws std::logic_error.
  using StepNoise = std::function<at::Tensor()>;
  virtual bool adds_noise() const { return false; }
  void set_step_noise(StepNoise source) { step_noise_ = std::move(source); }

 protected:
  std::vector<double> timesteps_;
  std::vector<double> sigmas_;
  StepNoise step_noise_;
};

// "euler", "ddim", "dpmpp2m", "euler-karras", "dpmpp2m-karras", "euler-a" or "lcm"; throws vsp::Error
// naming the valid choices otherwise.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name, const ScheduleConfig& config);

}  // namespace vsp::sampling
