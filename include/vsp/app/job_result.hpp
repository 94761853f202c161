#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <utility>
#include <vector>

#include "vsp/app/jobs.hpp"
#include "vsp/io/image.hpp"

namespace vsp::app {

struct JobResult {
  std::vector<io::Image> images;  // in the order of PlannedJob::outputs
  at::Tensor latents;             // the final latents of the generated rows, on the CPU
  // float32 arrays written as .npy files, relative to the output folder (raw attention maps).
  std::vector<std::pair<std::filesystem::path, at::Tensor>> arrays;
};

// uint8 [H, W, 3] pixels on the CPU as an image.
io::Image to_image(const at::Tensor& pixels);

}  // namespace vsp::app
