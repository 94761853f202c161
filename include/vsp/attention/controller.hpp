#pragma once
#include <ATen/core/Tensor.h>

#include <vector>

#include "vsp/models/manifest.hpp"

namespace vsp::attention {

// Which rows a UNet call carries (see pipeline::BranchLayout): all of them, the reference rows
// (run first, in their own call), or a chunk of the other rows (targets).
enum class Branch { all, reference, targets };

// Where the denoising loop stands when the UNet calls an attention layer.
struct StepContext {
  int step_index = -1;  // -1 outside the denoising loop
  int num_steps = 0;
  double timestep = 0;
  int cfg_halves = 1;   // 2 when the UNet batch is [uncond rows..., cond rows...]
  Branch branch = Branch::all;
};

// A per-layer attention policy, in the spirit of diffusers' attention processors and
// prompt-to-prompt's AttentionControl: every UNet attention goes through attend(), with the
// layer's manifest row, the step context and q/k/v shaped [B, heads, N, d].
class AttentionController {
 public:
  virtual ~AttentionController() = default;
  virtual at::Tensor attend(const models::AttentionLayer& layer, const StepContext& step, const at::Tensor& q,
                            const at::Tensor& k, const at::Tensor& v) = 0;
};

// Plain fused scaled-dot-product attention: what every layer does when no controller acts.
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

// Makes `controller` (nullable: plain SDPA) active for vsp::attention calls while in scope, with
// the model's layer table. One scope at a time: a run drives one UNet at a time.
class ActiveScope {
 public:
  ActiveScope(const std::vector<models::AttentionLayer>& layers, AttentionController* controller);
  ~ActiveScope();
  ActiveScope(const ActiveScope&) = delete;
  ActiveScope& operator=(const ActiveScope&) = delete;
  void set_step(const StepContext& step);
};

// Counts vsp::attention calls (all threads), for tests and diagnostics.
long long attention_call_count();

}  // namespace vsp::attention
