#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "vsp/config/defaults.hpp"
#include "vsp/io/image.hpp"
#include "vsp/pipeline/denoise.hpp"
#include "vsp/pipeline/vae_decode.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {

// Style injection, StyleID (docs/methods.md, section 2): every content and style picture is
// DDIM-inverted once (empty prompt, no guidance); each pair's stylised row starts from the AdaIN
// of the inverted content latent to the inverted style latent and is sampled with DDIM, its
// late self-attention taking the style's keys and values and a blend of the content's queries.
struct TransferRequest {
  std::vector<std::filesystem::path> contents;     // picture files (PNG or JPEG), read when it runs
  std::vector<std::filesystem::path> styles;       // likewise
  std::vector<std::pair<int64_t, int64_t>> pairs;  // (content, style) per output
  int width = 1024, height = 1024;
  int steps = defaults::transfer::steps;
  int start_step = defaults::transfer::start_step;
  double gamma = defaults::transfer::gamma;        // query preservation
  double tau = defaults::transfer::tau;            // attention temperature
  bool adain = defaults::transfer::adain;          // the initial latent: AdaIN of content to style, or the content's
  bool injection = defaults::transfer::injection;  // off: plain DDIM sampling from the initial latent (a baseline)
  std::vector<std::string> layers = {"default"};   // see transfer_layer_specs
  bool cache_features = false;                     // record during the inversion instead of recomputing each step
  int64_t batch_size = 0;                          // stylised rows per UNet call; 0: all
  VaeTiling vae_tiling = VaeTiling::automatic;
};

// A transfer checked against the model, with what it resolves; prepare_transfer makes it.
struct TransferPlan {
  TransferRequest request;
  std::vector<bool> layers;  // the injected self-attention layers, by layer id
  sampling::ScheduleConfig schedule;
};

struct TransferResult {
  at::Tensor latents;               // float32 [pairs, C, h, w], on the CPU
  at::Tensor images;                // uint8 [pairs, H, W, 3]
  std::vector<io::Image> pictures;  // the contents then the styles, as the model saw them
};

// The layer specs of a transfer for attention::select_self_layers: "default" is the last six
// self-attention layers (SD 1.x: the original's output blocks 6-11; real SDXL: up_blocks.1), "strong"
// adds the style preset "strong" (SDXL: up_blocks.0.attentions.2); others pass through.
std::vector<std::string> transfer_layer_specs(const std::vector<std::string>& layers);

// The initial latent: per channel over the spatial dims, content renormalised to the style's
// mean and unbiased std, no epsilon (as the original).
at::Tensor adain_latent(const at::Tensor& content, const at::Tensor& style);

// Every check of a transfer, before any picture is read or model run: size and steps for the
// model, gamma, tau, the start step, the pairs, the layers and the scheduler config. Throws
// vsp::UsageError for a knob out of range, vsp::Error for what the model cannot do.
TransferPlan prepare_transfer(const models::Manifest& manifest, TransferRequest request);

// A picture as StyleID's load_img prepares it: a centre crop to the output's aspect ratio
// (torchvision's rounding), then Pillow's Lanczos to width x height.
io::Image read_transfer_picture(const std::filesystem::path& file, int width, int height);

TransferResult style_injection(const models::Model& model, const TransferPlan& plan, const ProgressFn& progress);

}  // namespace vsp::pipeline
