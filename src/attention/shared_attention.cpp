#include "vsp/attention/shared_attention.hpp"

#include <ATen/ATen.h>

#include "vsp/attention/style_swap.hpp"
#include "vsp/error.hpp"

namespace vsp::attention {

std::pair<at::Tensor, at::Tensor> token_mean_std(const at::Tensor& x) {
  const auto mean = x.mean({-2}, /*keepdim=*/true);
  const auto std = (x.var({-2}, /*unbiased=*/true, /*keepdim=*/true) + 1e-5).sqrt();
  return {mean, std};
}

SharedAttentionController::SharedAttentionController(std::vector<bool> layers, std::vector<bool> steps, bool adain)
    : layers_(std::move(layers)), steps_(std::move(steps)), adain_(adain) {}

at::Tensor SharedAttentionController::attend(const models::AttentionLayer& layer, const StepContext& step,
                                             const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const bool active = layer.self && layer.id < static_cast<int>(layers_.size()) && layers_[layer.id] &&
                      step.step_index >= 0 && step.step_index < static_cast<int>(steps_.size()) &&
                      steps_[step.step_index];
  if (!active) return sdpa(q, k, v);
  if (step.all_rows_are(RowRole::reference)) {
    if (k.size(0) != step.cfg_halves)
      throw Error("shared attention: the reference call must hold one reference row per CFG half");
    Reference reference{k, v};
    if (adain_) {
      std::tie(reference.q_mean, reference.q_std) = token_mean_std(q);
      std::tie(reference.k_mean, reference.k_std) = token_mean_std(k);
    }
    references_[layer.id] = std::move(reference);
    return sdpa(q, k, v);
  }
  const auto found = references_.find(layer.id);
  if (!step.all_rows_are(RowRole::target) || found == references_.end())
    throw Error("shared attention: the targets ran before their reference at layer " + layer.name);
  const auto& ref = found->second;
  // Each target row takes the reference tensors of its CFG half: rows are [half 0 targets..., half 1 targets...].
  const int64_t halves = ref.k.size(0), targets = q.size(0) / halves;
  const auto per_row = [&](const at::Tensor& t) { return t.repeat_interleave(targets, 0); };
  auto query = q, key = k;
  if (adain_) {
    const auto [q_mean, q_std] = token_mean_std(q);
    const auto [k_mean, k_std] = token_mean_std(k);
    query = (q - q_mean) / q_std * per_row(ref.q_std) + per_row(ref.q_mean);
    key = (k - k_mean) / k_std * per_row(ref.k_std) + per_row(ref.k_mean);
  }
  return sdpa(query, at::cat({key, per_row(ref.k)}, -2), at::cat({v, per_row(ref.v)}, -2));
}

void SharedAttentionController::end_step(const StepContext& /*step*/) { references_.clear(); }

}  // namespace vsp::attention
