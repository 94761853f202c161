#include "vsp/attention/style_swap.hpp"

#include <ATen/ATen.h>

#include "vsp/error.hpp"

namespace vsp::attention {

StyleSwapController::StyleSwapController(std::vector<bool> layers, std::vector<bool> steps)
    : layers_(std::move(layers)), steps_(std::move(steps)) {}

bool StyleSwapController::active(const models::AttentionLayer& layer, const StepContext& step) const {
  return layer.self && layer.id < static_cast<int>(layers_.size()) && layers_[layer.id] && step.step_index >= 0 &&
         step.step_index < static_cast<int>(steps_.size()) && steps_[step.step_index];
}

at::Tensor StyleSwapController::attend(const models::AttentionLayer& layer, const StepContext& step,
                                       const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (!active(layer, step)) return sdpa(q, k, v);
  if (step.all_rows_are(RowRole::reference)) {
    if (k.size(0) != step.cfg_halves)
      throw Error("style swap: the reference call must hold one reference row per CFG half");
    reference_kv_[layer.id] = {k, v};
    return sdpa(q, k, v);
  }
  const auto found = reference_kv_.find(layer.id);
  if (!step.all_rows_are(RowRole::target) || found == reference_kv_.end())
    throw Error("style swap: the targets ran before their reference at layer " + layer.name);
  return shared_kv_attention(q, found->second.first, found->second.second);
}

void StyleSwapController::end_step(const StepContext& /*step*/) { reference_kv_.clear(); }

at::Tensor shared_kv_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const int64_t groups = k.size(0), heads = q.size(1), tokens = q.size(2), dim = q.size(3);
  const int64_t targets = q.size(0) / groups;
  // [groups*T, H, N, d] -> [groups, H, T*N, d]: softmax is per query, so folding is exact.
  const auto folded = q.view({groups, targets, heads, tokens, dim})
                          .permute({0, 2, 1, 3, 4})
                          .reshape({groups, heads, targets * tokens, dim});
  const auto out = at::scaled_dot_product_attention(folded, k, v);
  return out.view({groups, heads, targets, tokens, dim})
      .permute({0, 2, 1, 3, 4})
      .reshape({groups * targets, heads, tokens, dim});
}

}  // namespace vsp::attention
