#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>

#include "vsp/pipeline/denoise.hpp"

namespace vsp::pipeline {

struct TextToImageRequest {
  std::string prompt;
  std::optional<std::string> negative;  // absent: zero negatives; "" is encoded as text
  int steps = 50;
  double cfg = 5.0;
  uint64_t seed = 0;
  int width = 1024;
  int height = 1024;
  std::string sampler = "euler";
  int num = 1;  // images from one generator: the noise of all rows is drawn in one call, as diffusers does
};

struct TextToImageResult {
  at::Tensor latents;  // final latents, float32 [num, C, h, w], on the CPU
  at::Tensor images;   // uint8 [num, H, W, 3] on the CPU
};

TextToImageResult text_to_image(const models::Model& model, const TextToImageRequest& request,
                                const ProgressFn& progress = {});

}  // namespace vsp::pipeline
