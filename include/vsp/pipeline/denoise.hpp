#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "vsp/text/conditioning.hpp"

namespace vsp::models {
struct Model;
}
namespace vsp::sampling {
class Scheduler;
}
namespace vsp::attention {
class AttentionController;
}

namespace vsp::pipeline {

// Called after each denoising step with (steps done, total steps).
using ProgressFn = std::function<void(int, int)>;

struct DenoiseOptions {
  double guidance = 5.0;  // classifier-free guidance scale; <= 1 runs the conditional rows alone
  attention::AttentionController* controller = nullptr;  // nullptr: plain SDPA everywhere
  ProgressFn progress;
};

// The one denoising loop. latents are float32 [rows, C, h, w] on the model's device, already
// scaled by the scheduler's init_noise_sigma; with guidance the UNet batch is
// [uncond rows..., cond rows...]. Returns the final latents (float32).
at::Tensor denoise(const models::Model& model, sampling::Scheduler& scheduler, at::Tensor latents,
                   const text::Conditioning& uncond, const text::Conditioning& cond, const DenoiseOptions& options);

// Initial noise drawn on the CPU from torch's CPU generator seeded with `seed` (the numbers of
// torch.Generator("cpu").manual_seed(seed) in Python), then moved to `device`: one seed gives the
// same image on every device.
at::Tensor initial_noise(uint64_t seed, std::vector<int64_t> shape, const c10::Device& device);

// VAE decode (in the VAE's dtype, fp32 unless the export says otherwise) to uint8 [N, H, W, 3]
// on the CPU, rounded as diffusers' numpy_to_pil does.
at::Tensor decode_latents(const models::Model& model, const at::Tensor& latents);

}  // namespace vsp::pipeline
