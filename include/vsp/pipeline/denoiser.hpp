#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vsp/attention/controller.hpp"
#include "vsp/pipeline/conditioning.hpp"

namespace vsp::models {
struct Model;
}

namespace vsp::pipeline {

// How the rows of one run are split into UNet calls and guided.
struct BranchLayout {
  // The first reference_rows rows run first, in a UNet call of their own, at every step: their
  // numbers never depend on the other rows, and controllers can record them for the others.
  int64_t reference_rows = 0;
  // The other rows run in chunks of this many rows per UNet call (0: all in one call).
  int64_t batch_size = 0;
  // Rows whose prediction is the conditional one alone, without CFG (e.g. a real-image
  // reference). Empty: every row is guided.
  std::vector<bool> unguided;
  // Each row's role, which controllers read from the step context. Empty: every row is an image.
  std::vector<attention::RowRole> roles;
};

// A ControlNet steering some rows: its residuals join those rows' UNet calls (both CFG halves, as
// diffusers' ControlNet pipelines do without guess mode), scaled by `scale` inside the step window
// [start, end) (diffusers' control_guidance_start/end) and absent elsewhere.
struct ControlInput {
  std::string kind;        // the exported ControlNet ("canny", "depth"); empty: none
  at::Tensor images;       // float [rows, 3, H, W] in [0, 1], on the model's device
  std::vector<bool> rows;  // which rows it steers (a style reference is not steered)
  double scale = 1.0;
  double start = 0.0, end = 1.0;
  // The window's fractions count from this step, the first that runs (image to image starts late,
  // and diffusers' ControlNet img2img pipelines count over the steps that run).
  int first_step = 0;

  // The scale at step `step` of `steps`: 0 outside the window.
  double scale_at(int step, int steps) const;
};

// The UNet's per-row inputs, as named parts: the conditioning of each CFG half (uncond is read
// only when the run is guided) and an optional ControlNet.
struct RowInputs {
  Conditioning uncond;
  Conditioning cond;
  ControlInput control;
};

// One denoiser step: where the run stands and the guidance scale of this step.
struct DenoiserStep {
  int index = 0;
  int count = 1;
  double timestep = 0;
  double guidance = 1;
  attention::Phase phase = attention::Phase::sampling;
};

// Classifier-free guidance: uncond + scale (cond - uncond), the one combine of the two halves'
// predictions (the denoiser's, and null-text's separate calls).
at::Tensor guided_prediction(const at::Tensor& uncond, const at::Tensor& cond, double scale);

// The one place that calls the UNet. In the spirit of k-diffusion's denoiser: given every row's
// scaled latents, the step and the rows' inputs, it returns the guided noise prediction (float32,
// one row per latent row). It owns the row groups (reference call first, then chunks), the CFG
// halves, the lone-row rule, the controller's scope and step context, and end_step().
// It sets no InferenceMode: callers choose, so a caller may differentiate through it.
class Denoiser {
 public:
  // guided: every UNet call carries [uncond rows, cond rows] (the run has a step with guidance
  // above 1); otherwise the cond rows alone.
  Denoiser(const models::Model& model, BranchLayout layout, int64_t rows, bool guided,
           attention::AttentionController* controller);
  at::Tensor predict(const at::Tensor& model_input, const DenoiserStep& step, const RowInputs& inputs);

 private:
  struct Group {
    int64_t begin, end;
    bool reference;
    at::Tensor unguided;  // bool [rows, 1, 1, 1]: take the conditional prediction alone
  };
  at::Tensor unet(const at::Tensor& rows, const at::Tensor& timestep, const Conditioning& c,
                  const at::Tensor& control_images, double control_scale, const std::string& control_kind) const;

  const models::Model& model_;
  BranchLayout layout_;
  bool guided_;
  attention::AttentionController* controller_;
  attention::ActiveScope scope_;
  std::vector<Group> groups_;
};

}  // namespace vsp::pipeline
