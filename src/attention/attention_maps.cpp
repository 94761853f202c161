#include "vsp/attention/attention_maps.hpp"

#include <ATen/ATen.h>

#include <cmath>

#include "vsp/attention/style_swap.hpp"
#include "vsp/error.hpp"

namespace vsp::attention {

at::Tensor query_attention(const at::Tensor& q, const at::Tensor& k, const std::vector<int64_t>& tokens) {
  const auto index = at::tensor(tokens, at::kLong).to(q.device());
  const auto chosen = q.index_select(2, index).to(at::kFloat);  // [B, H, P, d]
  const auto logits = at::matmul(chosen, k.to(at::kFloat).transpose(-2, -1).unsqueeze(0)) /
                      std::sqrt(static_cast<double>(q.size(-1)));  // [B, H, P, M]
  return at::softmax(logits, -1).mean(1);                          // [B, P, M]
}

AttentionMapRecorder::AttentionMapRecorder(AttentionController& inner, AttentionMapRequest request, int64_t targets)
    : inner_(inner), request_(std::move(request)), targets_(targets) {
  grid_w_ = request_.latent_width >> request_.level;
  grid_h_ = request_.latent_height >> request_.level;
  for (const auto& [x, y] : request_.pixels) {
    const int64_t column = static_cast<int64_t>(x) * grid_w_ / request_.width;
    const int64_t row = static_cast<int64_t>(y) * grid_h_ / request_.height;
    tokens_.push_back(row * grid_w_ + column);
  }
  sums_ = at::zeros({targets_, static_cast<int64_t>(tokens_.size()), static_cast<int64_t>(grid_w_) * grid_h_});
}

at::Tensor AttentionMapRecorder::attend(const models::AttentionLayer& layer, const StepContext& step,
                                        const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  auto out = inner_.attend(layer, step, q, k, v);
  const bool recording = layer.self && step.step_index == request_.step && step.phase == Phase::sampling &&
                         layer.id < static_cast<int>(request_.layers.size()) && request_.layers[layer.id];
  if (!recording) return out;
  if (q.size(2) != static_cast<int64_t>(grid_w_) * grid_h_)
    throw Error("attention map: layer " + layer.name + " has " + std::to_string(q.size(2)) + " tokens, not the " +
                std::to_string(grid_w_) + "x" + std::to_string(grid_h_) + " its level gives");
  // The call's batch is [half 0 rows..., half 1 rows...]; a lone unguided row runs twice over.
  const int64_t halves = step.cfg_halves, per_half = q.size(0) / halves;
  const auto rows = static_cast<int64_t>(step.roles.size());
  if (step.all_rows_are(RowRole::reference)) {
    reference_keys_ = k[(halves - 1) * per_half];  // the conditional half's reference
  } else if (step.all_rows_are(RowRole::target) && reference_keys_.defined()) {
    const auto conditional = q.slice(0, (halves - 1) * per_half, (halves - 1) * per_half + rows);
    const auto probabilities = query_attention(conditional, reference_keys_, tokens_).cpu();
    const int64_t first_target = step.first_row - 1;  // row 0 of the run is the reference
    sums_.slice(0, first_target, first_target + rows) += probabilities;
    // Every layer is seen once per target chunk: count it on the chunk that holds the first target.
    if (first_target == 0) ++layers_recorded_;
  }
  return out;
}

void AttentionMapRecorder::end_step(const StepContext& step) {
  reference_keys_ = at::Tensor();
  inner_.end_step(step);
}

at::Tensor AttentionMapRecorder::maps() const {
  if (layers_recorded_ == 0)
    throw Error("attention map: no layer was recorded at step " + std::to_string(request_.step));
  return (sums_ / layers_recorded_).view({targets_, static_cast<int64_t>(tokens_.size()), grid_h_, grid_w_});
}

}  // namespace vsp::attention
