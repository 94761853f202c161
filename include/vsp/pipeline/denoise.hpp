#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "vsp/pipeline/conditioning.hpp"
#include "vsp/pipeline/denoiser.hpp"
#include "vsp/pipeline/progress.hpp"

namespace vsp::models {
struct Manifest;
struct Model;
}  // namespace vsp::models
namespace vsp::sampling {
class Scheduler;
struct StepOutput;
}  // namespace vsp::sampling
namespace vsp::attention {
class AttentionController;
}

namespace vsp::pipeline {

struct DenoiseOptions {
  double guidance = 5.0;  // classifier-free guidance scale; <= 1 runs the conditional rows alone
  int warmup_steps = 0;   // the first warmup_steps steps use warmup_guidance instead
  int first_step = 0;     // steps before it are skipped (StyleID starts at its second step)
  double warmup_guidance = 0;
  BranchLayout layout;
  attention::AttentionController* controller = nullptr;  // nullptr: plain SDPA everywhere
  ControlInput control;                                  // a ControlNet steering some rows (kind empty: none)
  // Before each step's UNet calls: may overwrite rows of the latents (e.g. a reference that
  // follows a noised real image) and replace the rows' inputs for this and later steps.
  std::function<void(int step, at::Tensor& latents, RowInputs& inputs)> before_unet;
  // After the scheduler's step: may replace the next latents (e.g. colour calibration).
  std::function<at::Tensor(int step, const sampling::StepOutput& out, const at::Tensor& latents)> after_step;
  ProgressFn progress;

  double guidance_at(int step) const { return step < warmup_steps ? warmup_guidance : guidance; }
};

// The one denoising loop: a sampler over the Denoiser. latents are float32 [rows, C, h, w] on the
// model's device, already scaled by the scheduler's init_noise_sigma; with guidance each UNet
// call's batch is [uncond rows..., cond rows...] of its chunk. Returns the final latents (float32).
at::Tensor denoise(const models::Model& model, sampling::Scheduler& scheduler, at::Tensor latents,
                   const Conditioning& uncond, const Conditioning& cond, const DenoiseOptions& options);

// Initial noise drawn on the CPU from torch's CPU generator seeded with `seed` (the numbers of
// torch.Generator("cpu").manual_seed(seed) in Python), then moved to `device`: one seed gives the
// same image on every device.
at::Tensor initial_noise(uint64_t seed, std::vector<int64_t> shape, const c10::Device& device);

}  // namespace vsp::pipeline
