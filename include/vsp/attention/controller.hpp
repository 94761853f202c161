#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vsp/attention/row_role.hpp"
#include "vsp/config/attention_layer.hpp"

namespace vsp::attention {

// What the UNet is being run for.
enum class Phase { sampling, inversion };

// Where the run stands when the UNet calls an attention layer, and which rows the call carries.
// Given by the denoiser before each UNet call, never inferred by counting calls.
struct StepContext {
  int step_index = -1;  // -1 outside a denoising run
  int num_steps = 0;
  double timestep = 0;
  Phase phase = Phase::sampling;
  int cfg_halves = 1;  // 2 when the UNet batch is [uncond rows..., cond rows...]
  // The run's rows [first_row, first_row + roles.size()) are in this call, in each CFG half, each
  // with the role the pipeline declared.
  int64_t first_row = 0;
  std::vector<RowRole> roles;

  // Whether every row of the call has this role.
  bool all_rows_are(RowRole role) const;
};

// A per-layer attention policy, in the spirit of diffusers' attention processors and
// prompt-to-prompt's AttentionControl: every UNet attention goes through attend(), with the
// layer's manifest row, the step context and q/k/v shaped [B, heads, N, d]; end_step() follows
// the last UNet call of every step.
class AttentionController {
 public:
  virtual ~AttentionController() = default;
  virtual at::Tensor attend(const models::AttentionLayer& layer, const StepContext& step, const at::Tensor& q,
                            const at::Tensor& k, const at::Tensor& v) = 0;
  virtual void end_step(const StepContext& /*step*/) {}
};

// Plain fused scaled-dot-product attention: what every layer does when no controller acts.
at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

// Makes `controller` (nullable: plain SDPA) active for vsp::attention calls while in scope, with
// the model's layer table. Scopes nest: leaving one restores the controller and step that were
// active before it (e.g. a DDIM inversion run inside a style run).
class ActiveScope {
 public:
  ActiveScope(const std::vector<models::AttentionLayer>& layers, AttentionController* controller);
  ~ActiveScope();
  ActiveScope(const ActiveScope&) = delete;
  ActiveScope& operator=(const ActiveScope&) = delete;
  void set_step(const StepContext& step);

 private:
  std::unique_ptr<struct ActiveState> previous_;
};

// Counts vsp::attention calls (all threads), for tests and diagnostics.
long long attention_call_count();

// Records the first layer's call of every UNet run while in scope (layer 0 runs first: the
// manifest is in execution order): the step context the pipeline declared and the rows the UNet
// got. For tests that pin what a whole pipeline runs, inversion and null-text included. One at a
// time, on the thread that runs the UNet.
class UnetCallWatch {
 public:
  struct Call {
    StepContext step;
    int64_t batch = 0;  // q's rows: both CFG halves, or the lone row twice
  };
  UnetCallWatch();
  ~UnetCallWatch();
  UnetCallWatch(const UnetCallWatch&) = delete;
  UnetCallWatch& operator=(const UnetCallWatch&) = delete;
  std::vector<Call> calls;
};

}  // namespace vsp::attention
