#pragma once
#include <ATen/core/Tensor.h>

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <utility>
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

// A run's noise, drawn on the CPU from torch's CPU generators (the numbers of
// torch.Generator("cpu").manual_seed(seed) in Python), then moved to the device: one seed gives
// the same image on every device. Each generator draws its own rows, so a row's noise depends on
// its seed alone. The first draw is the initial noise; a sampler that adds noise at each step
// (Euler a) draws again from the same generators, as diffusers' pipelines pass theirs on.
class SeededNoise {
 public:
  SeededNoise(std::vector<int64_t> latent_shape, c10::Device device);  // shape of one row: C, h, w
  void add(uint64_t seed, int64_t rows);
  void add(at::Generator generator, int64_t rows);  // a generator already drawn from (img2img)
  // The generator of the part-th add() from now on: a row that joins late (a style target from a
  // picture) draws its own step noise from there, as a run begun at that step would.
  void replace(size_t part, at::Generator generator);
  // [all rows, C, h, w] float32: each generator's rows, in the order added.
  at::Tensor draw();
  // Makes scheduler's step noise a draw of these generators, `repeats` times over (rows that share noise).
  void feed(sampling::Scheduler& scheduler, int64_t repeats = 1);

 private:
  std::vector<int64_t> latent_shape_;
  c10::Device device_;
  std::vector<std::pair<at::Generator, int64_t>> parts_;
};

}  // namespace vsp::pipeline
