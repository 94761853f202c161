#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "vsp/pipeline/conditioning.hpp"
#include "vsp/pipeline/denoise.hpp"

namespace vsp::sampling {
class Scheduler;
}

namespace vsp::pipeline {

// Null-text inversion (Mokady et al.), as the original null_text_w_ptp notebook: for each sampling
// step i, the unconditional embedding (starting from the previous step's) is optimised with Adam
// (lr 0.01 (1 - i / 100)) so that the guided DDIM step from the current latent lands on the
// inverted trajectory's next latent, for at most `max_iterations` iterations, stopping once the
// MSE falls below 1e-5 + i 2e-5; the current latent then takes that guided step.
struct NullTextResult {
  std::vector<at::Tensor> uncond_embeds;  // per step: [1, 77, C], detached
  std::vector<int> iterations;            // per step: Adam iterations run
  std::vector<double> losses;             // per step: the last loss
};

// path: x_0 .. x_N from ddim_inversion_path (x_N the inverted latent); scheduler: DDIM, set to N
// steps; cond and uncond: one row each (uncond's prompt_embeds are the starting point; its pooled
// embedding and time ids stay as they are). Gradients flow through the traced UNet and
// vsp::attention: the caller must not hold an InferenceMode guard.
NullTextResult optimise_null_text(const models::Model& model, sampling::Scheduler& scheduler,
                                  const std::vector<at::Tensor>& path, const Conditioning& cond,
                                  const Conditioning& uncond, double guidance, int max_iterations,
                                  const ProgressFn& progress);

}  // namespace vsp::pipeline
