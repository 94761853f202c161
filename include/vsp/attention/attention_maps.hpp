#pragma once
#include <utility>
#include <vector>

#include "vsp/attention/controller.hpp"

namespace vsp::attention {

// What to record: where chosen target pixels attend in the reference (the paper's "how to
// visualize the attention map"), at one step, averaged over heads and the chosen layers, which
// share one resolution.
struct AttentionMapRequest {
  std::vector<std::pair<int, int>> pixels;  // (x, y) in output pixels
  int step = 0;
  std::vector<bool> layers;  // over layer ids
  int level = 0;             // the layers' resolution level (token grid = latent / 2^level)
  int latent_width = 0, latent_height = 0;
  int width = 0, height = 0;  // output pixels
};

// The attention probabilities of some query tokens, averaged over heads: q [B, H, N, d] and the
// keys k [H, M, d] they attend to -> [B, tokens.size(), M]; each row sums to 1. Only the chosen
// queries' logits are computed.
at::Tensor query_attention(const at::Tensor& q, const at::Tensor& k, const std::vector<int64_t>& tokens);

// Wraps the controller that does the attention (the style swap) and reads, without changing
// anything, the post-swap attention of the chosen target pixels over the reference's tokens in the
// conditional CFG half, at the chosen step and layers only.
class AttentionMapRecorder : public AttentionController {
 public:
  AttentionMapRecorder(AttentionController& inner, AttentionMapRequest request, int64_t targets);
  at::Tensor attend(const models::AttentionLayer& layer, const StepContext& step, const at::Tensor& q,
                    const at::Tensor& k, const at::Tensor& v) override;
  void end_step(const StepContext& step) override;
  // float32 [targets, pixels, grid_h, grid_w], on the CPU: each map sums to 1.
  at::Tensor maps() const;

 private:
  AttentionController& inner_;
  AttentionMapRequest request_;
  int64_t targets_;
  int grid_w_, grid_h_;
  std::vector<int64_t> tokens_;  // the pixels' token indices on the layers' grid
  at::Tensor reference_keys_;    // [H, M, d] of the current layer's reference (conditional half)
  at::Tensor sums_;              // [targets, pixels, M]
  int layers_recorded_ = 0;
};

}  // namespace vsp::attention
