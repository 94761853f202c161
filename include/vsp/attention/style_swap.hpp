#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vsp/attention/controller.hpp"

namespace vsp::attention {

// Visual style prompting's swap: in the chosen self-attention layers and steps, every target row
// attends with its own queries to the keys and values of the reference row of its CFG half:
//   out_tgt = softmax(Q_tgt K_ref^T / sqrt(d)) V_ref.
// The reference runs first in its own UNet call (rows of role "reference", one per CFG half); its
// K/V are kept until the step ends. In the targets' call, the queries of all targets of one half are
// folded into one long sequence against the reference's K/V: one fused SDPA per half, no copy of
// K/V per target. The reference itself and cross-attention are untouched.
class StyleSwapController : public AttentionController {
 public:
  StyleSwapController(std::vector<bool> layers, std::vector<bool> steps);
  at::Tensor attend(const models::AttentionLayer& layer, const StepContext& step, const at::Tensor& q,
                    const at::Tensor& k, const at::Tensor& v) override;
  void end_step(const StepContext& step) override;

 private:
  bool active(const models::AttentionLayer& layer, const StepContext& step) const;

  std::vector<bool> layers_;
  std::vector<bool> steps_;
  std::map<int, std::pair<at::Tensor, at::Tensor>> reference_kv_;  // layer id -> K, V of this step
};

// softmax(Q K^T / sqrt(d)) V where the rows of q are `groups` groups of targets, group g attending
// to k[g], v[g]: q [groups*T, H, N, d], k/v [groups, H, M, d].
at::Tensor shared_kv_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

}  // namespace vsp::attention
