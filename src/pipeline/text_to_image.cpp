#include "vsp/pipeline/text_to_image.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "vsp/error.hpp"
#include "vsp/io/image.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/image_latents.hpp"
#include "vsp/pipeline/inpaint_mask.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {

namespace {

// diffusers' img2img get_timesteps: the last int(steps * strength) steps run.
int first_step_of(const TextToImageRequest& r) {
  if (!r.image) return 0;
  const int kept = std::min(static_cast<int>(r.steps * r.strength), r.steps);
  return r.steps - kept;
}

void check_shared(const TextToImageRequest& a, const TextToImageRequest& b) {
  if (a.width != b.width || a.height != b.height || a.steps != b.steps || a.cfg != b.cfg || a.sampler != b.sampler ||
      a.timestep_spacing != b.timestep_spacing)
    throw Error("text_to_image: requests batched together need the same size, steps, cfg, sampler and spacing");
}

}  // namespace

TextToImagePlan prepare_text_to_image(const models::Manifest& manifest, TextToImageRequest r) {
  manifest.check_size(r.width, r.height);
  manifest.check_steps(r.steps);
  if (r.num < 1) throw UsageError("--num must be at least 1");
  if (r.image && (!(r.strength > 0) || r.strength > 1))
    throw UsageError("--strength must be above 0 and at most 1, got " + std::to_string(r.strength));
  if (r.mask && !r.image) throw UsageError("--mask needs --image: the picture it masks");
  if (r.mask_blur && !r.mask) throw UsageError("--mask-blur applies to --mask");
  if (r.mask_blur && !(*r.mask_blur >= 0 && *r.mask_blur <= 100))
    throw UsageError("--mask-blur must be 0 to 100 pixels, got " + std::to_string(*r.mask_blur));
  if (r.image && first_step_of(r) >= r.steps)
    throw UsageError("--strength " + std::to_string(r.strength) + " of " + std::to_string(r.steps) +
                     " steps runs none (int(steps * strength) = 0); raise --strength or --steps");
  auto schedule = sampling::ScheduleConfig::from_json(manifest.scheduler);
  if (r.timestep_spacing) schedule.timestep_spacing = *r.timestep_spacing;
  return {std::move(r), std::move(schedule)};
}

std::vector<TextToImageResult> text_to_image(const models::Model& model, const std::vector<TextToImagePlan>& plans,
                                             int64_t batch_size, const ProgressFn& progress) {
  if (plans.empty()) return {};
  const auto& first = plans.front().request;
  const auto& m = model.manifest;
  torch::InferenceMode guard;

  const int64_t h = first.height / m.vae_scale_factor, w = first.width / m.vae_scale_factor;
  std::vector<Conditioning> conds, unconds;
  SeededNoise noise({m.latent_channels, h, w}, model.device);
  for (const auto& plan : plans) {
    const auto& r = plan.request;
    check_shared(first, r);
    conds.push_back(
        encode_prompts(model, std::vector<std::string>(r.num, r.prompt), r.width, r.height, r.prompt_syntax));
    unconds.push_back(encode_negative(model, r.negative, r.num, r.width, r.height, r.prompt_syntax));
    if (!r.image) noise.add(r.seed, r.num);
  }
  model.text_encoding_done();
  auto scheduler = sampling::make_scheduler(first.sampler, plans.front().schedule);
  scheduler->set_timesteps(first.steps);
  DenoiseOptions options;
  options.guidance = first.cfg;
  options.layout.batch_size = batch_size;
  options.first_step = first_step_of(first);
  options.progress = progress;
  at::Tensor start, mask;
  if (first.image) {
    if (plans.size() != 1) throw Error("text_to_image: a request with a picture runs alone");
    // As diffusers' prepare_latents: one generator samples the picture's latent, then the noise.
    const auto picture = io::read_image(*first.image);
    auto generator = at::detail::createCPUGenerator(first.seed);
    const auto z0 = encode_image(model, picture, first.width, first.height, &generator).repeat({first.num, 1, 1, 1});
    const auto image_noise =
        torch::randn({first.num, m.latent_channels, h, w}, generator, torch::kFloat).to(model.device);
    if (first.mask) {
      // diffusers also VAE-encodes the masked picture, sampled with the generator, which a UNet of
      // 4 channels never reads: the encode is skipped, its draw kept, so Euler a's noise continues alike.
      torch::randn({1, m.latent_channels, h, w}, generator, torch::kFloat);
      mask = read_inpaint_mask(*first.mask, picture.width, picture.height, first.width, first.height);
      const auto kept = 1 - latent_mask(mask, h, w).to(model.device);
      // diffusers' is_strength_max: all the steps, from pure noise.
      start = first.strength >= 1 ? image_noise * scheduler->init_noise_sigma()
                                  : scheduler->add_noise(z0, image_noise, options.first_step);
      const auto* sampler = scheduler.get();
      const int steps = first.steps;
      options.after_step = [=](int step, const sampling::StepOutput& out, const at::Tensor&) {
        const auto known = step + 1 < steps ? sampler->add_noise(z0, image_noise, step + 1) : z0;
        return kept * known + (1 - kept) * out.prev_sample;
      };
    } else {
      start = scheduler->add_noise(z0, image_noise, options.first_step);
    }
    noise.add(generator, first.num);
  } else {
    start = noise.draw() * scheduler->init_noise_sigma();
  }
  noise.feed(*scheduler);
  if (first.control.active()) {
    if (plans.size() != 1) throw Error("text_to_image: a request with a ControlNet runs alone");
    options.control = control_input(first.control, std::vector<bool>(first.num, true), model.device);
    options.control.first_step = options.first_step;
  }
  const auto latents = denoise(model, *scheduler, start, Conditioning::cat(unconds), Conditioning::cat(conds), options);
  const auto cpu_latents = latents.to(torch::kCPU);
  std::vector<TextToImageResult> results;
  int64_t row = 0;
  for (const auto& plan : plans) {
    const auto& r = plan.request;
    auto images = decode_latents(model, latents.narrow(0, row, r.num), r.vae_tiling, progress);
    if (r.mask_blur) images = overlay_on_picture(images, io::read_image(*r.image), mask, *r.mask_blur);
    results.push_back({cpu_latents.narrow(0, row, r.num), images});
    row += r.num;
  }
  return results;
}

}  // namespace vsp::pipeline
