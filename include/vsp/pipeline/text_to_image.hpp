#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vsp/config/defaults.hpp"
#include "vsp/pipeline/control.hpp"
#include "vsp/pipeline/denoise.hpp"
#include "vsp/pipeline/vae_decode.hpp"
#include "vsp/sampling/scheduler.hpp"
#include "vsp/text/prompt_weights.hpp"

namespace vsp::pipeline {

struct TextToImageRequest {
  std::string prompt;
  std::optional<std::string> negative;  // absent: zero negatives; "" is encoded as text
  text::PromptSyntax prompt_syntax = text::PromptSyntax::a1111;
  int steps = defaults::generate::steps;
  double cfg = defaults::generate::cfg;
  uint64_t seed = 0;
  int width = 1024;
  int height = 1024;
  std::string sampler = defaults::generate::sampler;
  std::optional<std::string> timestep_spacing;  // overrides the export's scheduler config
  int num = defaults::generate::num;  // images from one generator: the noise of all rows is drawn in one call, as
                                      // diffusers does
  VaeTiling vae_tiling = VaeTiling::automatic;
  ControlSettings control;  // a ControlNet steering every image (no map: none)
  // Image to image, as diffusers' img2img pipelines: the picture's latent (the VAE posterior
  // sampled with the seed's generator), noised with the same generator to the first of the last
  // int(steps * strength) steps, which alone run.
  std::optional<std::filesystem::path> image;
  double strength = defaults::generate::strength;
  // A masked edit of the picture (white = repaint), as diffusers' inpainting pipelines run a UNet
  // of 4 input channels: after each step the unmasked region is put back to the picture's latent,
  // noised to the next step's level. At strength 1 the run starts from pure noise.
  std::optional<std::filesystem::path> mask;
  // With a mask: paste the result over the picture through the mask feathered by a Gaussian of
  // this many pixels (0: hard edges), as A1111's inpaint overlay; absent: the decoded latents as
  // they are (diffusers).
  std::optional<double> mask_blur;
};

struct TextToImageResult {
  at::Tensor latents;  // final latents, float32 [num, C, h, w], on the CPU
  at::Tensor images;   // uint8 [num, H, W, 3] on the CPU
};

// A request checked against the model, with its schedule; prepare_text_to_image makes it.
struct TextToImagePlan {
  TextToImageRequest request;
  sampling::ScheduleConfig schedule;
};

// Every check of a request, before any model runs: size and steps for the model, --num, the
// scheduler config, that --strength leaves a step to run, that a mask has a picture of its size. Throws vsp::UsageError
// for a value out of range, vsp::Error for the model's.
TextToImagePlan prepare_text_to_image(const models::Manifest& manifest, TextToImageRequest request);

// Plans of one size, step count, guidance and sampler, run as one batch of rows, batch_size
// rows per UNet call (0: all). Every request gets the numbers it would get alone: its own noise
// and prompts, and the runtime's rows do not depend on their neighbours. Throws vsp::Error when
// the requests cannot share a batch (a request with a ControlNet or a picture runs alone).
std::vector<TextToImageResult> text_to_image(const models::Model& model, const std::vector<TextToImagePlan>& plans,
                                             int64_t batch_size, const ProgressFn& progress = {});

}  // namespace vsp::pipeline
