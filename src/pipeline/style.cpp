#include "vsp/pipeline/style.hpp"

#include <torch/torch.h>

#include <climits>

#include "vsp/attention/shared_attention.hpp"
#include "vsp/attention/style_swap.hpp"
#include "vsp/config/selection.hpp"
#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/image_latents.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {

namespace {

attention::AttentionMapRequest attention_map_request(const models::Manifest& manifest, const StyleRequest& r,
                                                     const std::vector<bool>& swapped,
                                                     const std::vector<bool>& swap_steps);

}  // namespace

StylePlan prepare_style(const models::Manifest& manifest, StyleRequest r) {
  manifest.check_size(r.width, r.height);
  manifest.check_steps(r.steps);
  if (r.target_prompts.empty()) throw UsageError("style: at least one target is needed (--object or --prompt)");
  if (r.target_seeds.size() != r.target_prompts.size())
    throw UsageError("style: " + std::to_string(r.target_prompts.size()) + " targets but " +
                     std::to_string(r.target_seeds.size()) + " seeds; give one seed per target (--seeds)");
  if (r.steps < 1) throw UsageError("--steps must be at least 1");
  if (r.warmup_steps < 0 || r.warmup_steps > r.steps)
    throw UsageError("--warmup-steps " + std::to_string(r.warmup_steps) + " is more than the " +
                     std::to_string(r.steps) + " steps; lower --warmup-steps");
  if (r.batch_size < 0) throw UsageError("--batch-size must be 0 (all targets at once) or more");
  // Zero negative embeddings are SDXL's policy (force_zeros_for_empty_prompt); an SD 1.x/2.x UNet
  // was never conditioned on zeros.
  if (r.zero_target_negatives && !manifest.force_zeros_for_empty_prompt)
    throw UsageError("zero_target_negatives is SDXL's zero-negative policy, but this " + manifest.family +
                     " model encodes negatives as text; set \"zero_target_negatives\": false in the style");
  if (r.style_image) {
    if (r.sampler != "ddim")
      throw UsageError("a style image is followed with DDIM; use --sampler ddim (the default for --style-image)");
    if (r.reference_trajectory != "noise" && r.reference_trajectory != "inversion")
      throw UsageError("unknown --reference-trajectory '" + r.reference_trajectory + "'; use noise or inversion");
  }
  if (r.target_image) {
    if (!(r.strength > 0) || r.strength > 1)
      throw UsageError("--strength must be above 0 and at most 1, got " + std::to_string(r.strength));
    if (static_cast<int>(r.steps * r.strength) < 1)
      throw UsageError("--strength " + std::to_string(r.strength) + " of " + std::to_string(r.steps) +
                       " steps runs none (int(steps * strength) = 0); raise --strength or --steps");
  }
  StylePlan plan;
  plan.layers = attention::select_self_layers(manifest.attention_layers, r.layers);
  plan.swap_steps = attention::select_steps(r.swap_steps, r.steps);
  plan.schedule = sampling::ScheduleConfig::from_json(manifest.scheduler);
  if (!r.attention_pixels.empty()) plan.maps = attention_map_request(manifest, r, plan.layers, plan.swap_steps);
  plan.request = std::move(r);
  return plan;
}

namespace {

attention::AttentionMapRequest attention_map_request(const models::Manifest& manifest, const StyleRequest& r,
                                                     const std::vector<bool>& swapped,
                                                     const std::vector<bool>& swap_steps) {
  attention::AttentionMapRequest a;
  for (const auto& [x, y] : r.attention_pixels)
    if (x < 0 || y < 0 || x >= r.width || y >= r.height)
      throw UsageError("--attention-map " + std::to_string(x) + "," + std::to_string(y) + " is outside the " +
                       std::to_string(r.width) + "x" + std::to_string(r.height) +
                       " image; pixels count from 0,0 at the top left");
  if (r.shared_attention)
    throw UsageError("attention maps show where the swap makes targets attend; drop --shared-attention to draw them");
  a.step = r.attention_step < 0 ? r.steps / 2 : r.attention_step;
  if (a.step >= r.steps)
    throw UsageError("--attention-step " + std::to_string(a.step) + " is past the last step (" +
                     std::to_string(r.steps - 1) + "); steps count from 0");
  if (!swap_steps[a.step])
    throw UsageError("--attention-step " + std::to_string(a.step) + " does not swap (--swap-steps " + r.swap_steps +
                     "): targets attend to the reference only at swapping steps; choose one of them");
  int finest = INT_MAX;
  for (const auto& l : manifest.attention_layers)
    if (swapped[l.id]) finest = std::min(finest, l.level);
  a.layers = r.attention_layers.empty() ? std::vector<bool>(swapped.size(), false)
                                        : attention::select_self_layers(manifest.attention_layers, r.attention_layers);
  a.level = -1;
  for (const auto& l : manifest.attention_layers) {
    if (r.attention_layers.empty() && swapped[l.id] && l.level == finest) a.layers[l.id] = true;
    if (!a.layers[l.id]) continue;
    if (!swapped[l.id])
      throw UsageError("--attention-layers: " + l.name + " does not swap; choose among the swapped layers (--layers)");
    if (a.level >= 0 && l.level != a.level)
      throw UsageError("--attention-layers mixes resolutions (levels " + std::to_string(a.level) + " and " +
                       std::to_string(l.level) + "); choose layers of one block");
    a.level = l.level;
  }
  a.pixels = r.attention_pixels;
  a.width = r.width;
  a.height = r.height;
  a.latent_width = r.width / manifest.vae_scale_factor;
  a.latent_height = r.height / manifest.vae_scale_factor;
  return a;
}

// Colour calibration (docs/methods.md, 1.5): inside the timestep window, renormalise every row's
// predicted x0 per channel to the reference row's statistics and finish the DDIM step from it,
// keeping the model's eps: x_prev' = sqrt(abar_prev) x0' + sqrt(1 - abar_prev) eps
//                                  = x_prev + sqrt(abar_prev) (x0' - x0).
at::Tensor calibrate_colours(const sampling::StepOutput& out, double sigma_prev) {
  const auto& x0 = out.pred_original_sample;
  const auto mean = x0.mean({2, 3}, true);
  const auto std = x0.std({2, 3}, /*unbiased=*/true, true);
  const auto corrected = (x0 - mean) / (std + 1e-8) * std.slice(0, 0, 1) + mean.slice(0, 0, 1);
  const double sqrt_alpha_prev = 1.0 / std::sqrt(1.0 + sigma_prev * sigma_prev);
  return out.prev_sample + sqrt_alpha_prev * (corrected - x0);
}

using BeforeUnet = std::function<void(int step, at::Tensor& latents, RowInputs& inputs)>;

// The targets' rows from a picture: as generate --image, each target's generator samples the
// picture's latent, then its noise; the row takes that at its first step, where the sampler
// restarts it and its step noise (Euler a, LCM) goes on from that generator. Until then the row
// runs from a stand-in generator's noise and its results are dropped (the reference never reads a
// target).
BeforeUnet targets_from_picture(const models::Model& model, const StyleRequest& r, sampling::Scheduler& scheduler,
                                SeededNoise& noise) {
  const int first_step = r.steps - std::min(static_cast<int>(r.steps * r.strength), r.steps);
  const auto posterior = encode_posterior(model, io::read_image(*r.target_image), r.width, r.height);
  std::vector<at::Tensor> starts;
  std::vector<at::Generator> generators;
  for (auto seed : r.target_seeds) {
    auto generator = at::detail::createCPUGenerator(seed);
    const auto z0 = posterior.sample(generator);
    const auto eps = torch::randn(z0.sizes(), generator, torch::kFloat).to(z0.device());
    starts.push_back(scheduler.add_noise(z0, eps, first_step));
    generators.push_back(generator);
    noise.add(at::detail::createCPUGenerator(seed), 1);  // the stand-in
  }
  auto restarting = torch::ones({1 + static_cast<int64_t>(starts.size())}, torch::kBool);
  restarting[0] = false;
  return [first_step, start = torch::cat(starts), restarting, generators, &scheduler, &noise](int step, at::Tensor& x,
                                                                                              RowInputs&) {
    if (step != first_step) return;
    x.slice(0, 1).copy_(start);
    scheduler.restart_rows(restarting);
    for (size_t i = 0; i < generators.size(); ++i) noise.replace(1 + i, generators[i]);
  };
}

}  // namespace

StyleResult visual_style_prompting(const models::Model& model, const StylePlan& plan, const ProgressFn& progress) {
  const StyleRequest& r = plan.request;
  torch::InferenceMode guard;
  const auto& m = model.manifest;
  const auto& schedule = plan.schedule;
  auto scheduler = sampling::make_scheduler(r.sampler, schedule);
  scheduler->set_timesteps(r.steps);
  const auto targets = static_cast<int64_t>(r.target_prompts.size());
  const int64_t rows = 1 + targets;

  std::vector<std::string> prompts{r.reference_prompt};
  prompts.insert(prompts.end(), r.target_prompts.begin(), r.target_prompts.end());
  const auto cond = encode_prompts(model, prompts, r.width, r.height, r.prompt_syntax);
  Conditioning uncond;
  if (r.style_image || !r.negative) {
    uncond = zero_conditioning(model, rows, r.width, r.height);
  } else {
    uncond = encode_prompts(model, std::vector<std::string>(rows, *r.negative), r.width, r.height, r.prompt_syntax);
    if (r.zero_target_negatives)
      uncond = Conditioning::cat({uncond.select({0}), zero_conditioning(model, targets, r.width, r.height)});
  }

  model.text_encoding_done();

  const int64_t h = r.height / m.vae_scale_factor, w = r.width / m.vae_scale_factor;
  SeededNoise noise({m.latent_channels, h, w}, model.device);
  noise.add(r.reference_seed, 1);
  std::vector<BeforeUnet> hooks;
  if (r.target_image) {
    hooks.push_back(targets_from_picture(model, r, *scheduler, noise));
  } else {
    for (auto seed : r.target_seeds) noise.add(seed, 1);
  }
  auto latents = noise.draw() * scheduler->init_noise_sigma();
  noise.feed(*scheduler);

  std::unique_ptr<attention::AttentionController> controller;
  if (r.shared_attention)
    controller = std::make_unique<attention::SharedAttentionController>(plan.layers, plan.swap_steps, r.shared_adain);
  else
    controller = std::make_unique<attention::StyleSwapController>(plan.layers, plan.swap_steps);
  DenoiseOptions options;
  options.guidance = r.cfg;
  options.warmup_steps = r.warmup_steps;
  options.warmup_guidance = r.warmup_cfg;
  options.layout.reference_rows = 1;
  options.layout.roles.assign(rows, attention::RowRole::target);
  options.layout.roles[0] = attention::RowRole::reference;
  options.layout.batch_size = r.batch_size;
  options.controller = controller.get();
  std::vector<bool> steered(rows, true);
  steered[0] = false;  // the reference keeps its own layout
  options.control = control_input(r.control, steered, model.device);
  std::unique_ptr<attention::AttentionMapRecorder> recorder;
  if (plan.maps) {
    recorder = std::make_unique<attention::AttentionMapRecorder>(*controller, *plan.maps, targets);
    options.controller = recorder.get();
  }
  options.progress = progress;

  if (r.style_image) {
    options.layout.unguided = {true};
    const auto z0 = encode_image(model, io::read_image(*r.style_image), r.width, r.height);
    std::vector<at::Tensor> trajectory;
    if (r.reference_trajectory == "inversion") {
      trajectory = ddim_inversion_trajectory(model, schedule, z0, cond.select({0}), r.steps, progress);
    } else {
      // Seeded, unlike the original code: the same run gives the same reference path.
      auto generator = at::detail::createCPUGenerator(r.reference_seed);
      for (int i = 0; i < r.steps; ++i) {
        const auto eps = torch::randn(z0.sizes(), generator, torch::kFloat).to(model.device);
        trajectory.push_back(scheduler->add_noise(z0, eps, i));
      }
    }
    hooks.push_back([trajectory](int step, at::Tensor& x, RowInputs&) { x.slice(0, 0, 1).copy_(trajectory[step]); });
    if (r.color_calibration) {
      const auto& timesteps = scheduler->timesteps();
      const auto& sigmas = scheduler->sigmas();
      options.after_step = [&, timesteps, sigmas](int step, const sampling::StepOutput& out, const at::Tensor&) {
        const double t = timesteps[step];
        if (t > r.calibration_t_min && t < r.calibration_t_max) return calibrate_colours(out, sigmas[step + 1]);
        return out.prev_sample;
      };
    }
  }
  options.before_unet = [hooks](int step, at::Tensor& x, RowInputs& inputs) {
    for (const auto& hook : hooks) hook(step, x, inputs);
  };
  latents = denoise(model, *scheduler, latents, uncond, cond, options);

  return {latents.to(torch::kCPU), decode_latents(model, latents, r.vae_tiling, progress),
          recorder ? recorder->maps() : at::Tensor()};
}

}  // namespace vsp::pipeline
