#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vsp/attention/attention_maps.hpp"
#include "vsp/config/defaults.hpp"
#include "vsp/io/image.hpp"
#include "vsp/pipeline/control.hpp"
#include "vsp/pipeline/denoise.hpp"
#include "vsp/pipeline/vae_decode.hpp"
#include "vsp/sampling/scheduler.hpp"
#include "vsp/text/prompt_weights.hpp"

namespace vsp::pipeline {

// Visual style prompting (docs/methods.md, section 1): one reference row, denoised with the
// targets at every step, whose self-attention keys and values the targets take in the chosen
// late layers.
struct StyleRequest {
  std::string reference_prompt;
  uint64_t reference_seed = 0;
  std::vector<std::string> target_prompts;
  std::vector<uint64_t> target_seeds;   // one per target
  std::optional<std::string> negative;  // encoded for every row (even ""); absent: zeros
  bool zero_target_negatives = false;   // targets get zero negatives instead
  text::PromptSyntax prompt_syntax = text::PromptSyntax::a1111;
  int steps = 50;
  double cfg = 7.0;
  int warmup_steps = 0;
  double warmup_cfg = 0;
  std::string sampler = "euler";
  int width = 1024;
  int height = 1024;
  std::vector<std::string> layers = {"default"};  // see attention::select_self_layers
  std::string swap_steps = "all";                 // see attention::select_steps
  int64_t batch_size = 0;                         // targets per UNet call; 0: all
  // Instead of the swap, shared attention (attention::SharedAttentionController) in the same
  // layers and steps, with AdaIN of the targets' queries and keys unless shared_adain is off.
  bool shared_attention = false;
  bool shared_adain = defaults::style::shared_adain;
  // A ControlNet steering the targets (never the reference).
  ControlSettings control;
  // Attention maps: for each target pixel (x, y), where its query attends in the reference at one
  // step (attention::AttentionMapRecorder).
  std::vector<std::pair<int, int>> attention_pixels;
  int attention_step = -1;                    // -1: the middle step, steps / 2
  std::vector<std::string> attention_layers;  // empty: the swapped layers of the finest level
  VaeTiling vae_tiling = VaeTiling::automatic;
  // Targets from a picture (image to image): each target's row joins at the first of the last
  // int(steps * strength) steps from the picture's latent, sampled and noised with the target's
  // seed as generate --image does; the reference row runs every step, as without the picture.
  std::optional<std::filesystem::path> target_image;
  double strength = defaults::generate::strength;

  // Reference from a real image: the reference row follows the encoded image, noised to each
  // step's timestep ("noise", seeded by reference_seed) or its DDIM inversion ("inversion").
  std::optional<std::filesystem::path> style_image;  // the picture file (PNG or JPEG), read when it runs
  std::string reference_trajectory = defaults::style::reference_trajectory;
  bool color_calibration = defaults::style::color_calibration;  // real-image path, DDIM only
  double calibration_t_min = 100;                               // exclusive window on the 1000-step scale
  double calibration_t_max = 150;
};

struct StyleResult {
  at::Tensor latents;         // float32 [1 + N, C, h, w]: row 0 is the reference
  at::Tensor images;          // uint8 [1 + N, H, W, 3]
  at::Tensor attention_maps;  // float32 [N, pixels, grid_h, grid_w] when pixels were asked for
};

// A style run checked against the model, with what it resolves; prepare_style makes it.
struct StylePlan {
  StyleRequest request;
  std::vector<bool> layers;      // the swapped self-attention layers, by layer id
  std::vector<bool> swap_steps;  // the steps that swap
  sampling::ScheduleConfig schedule;
  // With attention_pixels: the maps, checked (pixels inside the image, a swapping step, swapped
  // layers of one resolution).
  std::optional<attention::AttentionMapRequest> maps;
};

// Every check of a style run, before any picture is read or model run: size and steps for the
// model, targets and seeds, warm-up, the sampler and trajectory for a style image, the negative
// policy, the layers, the swapping steps, the scheduler config and the attention maps. Throws
// vsp::UsageError naming the flag and the fix, vsp::Error for what the model cannot do.
StylePlan prepare_style(const models::Manifest& manifest, StyleRequest request);

StyleResult visual_style_prompting(const models::Model& model, const StylePlan& plan, const ProgressFn& progress = {});

}  // namespace vsp::pipeline
