#include "vsp/attention/prompt_edit.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace vsp::attention {
namespace {

// [E, H, N, d] -> [1, H, N, E*d]: the edited rows' values side by side, so one SDPA with the
// source's queries and keys serves them all (attention is linear in V).
at::Tensor side_by_side(const at::Tensor& values) {
  const auto e = values.size(0), h = values.size(1), n = values.size(2), d = values.size(3);
  return values.permute({1, 2, 0, 3}).reshape({1, h, n, e * d});
}

// The inverse of side_by_side on an SDPA output [1, H, N, E*d] -> [E, H, N, d].
at::Tensor apart(const at::Tensor& out, int64_t edits) {
  const auto h = out.size(1), n = out.size(2), d = out.size(3) / edits;
  return out.reshape({h, n, edits, d}).permute({2, 0, 1, 3});
}

bool in_down_or_up_block(const models::AttentionLayer& layer) {
  return layer.block.rfind("down_blocks", 0) == 0 || layer.block.rfind("up_blocks", 0) == 0;
}

}  // namespace

PromptEditController::PromptEditController(PromptEdit edit, const std::vector<models::AttentionLayer>& layers)
    : edit_(std::move(edit)) {
  const auto active = edit_.mapper.abs().sum({1, 2, 3}).gt(0).to(at::kCPU);
  for (int64_t s = 0; s < active.size(0); ++s) mapper_active_.push_back(active[s].item<bool>());
  for (const auto& layer : layers)
    if (records(layer)) heads_[layer.level] += layer.heads;
}

bool PromptEditController::records(const models::AttentionLayer& layer) const {
  return !layer.self && in_down_or_up_block(layer) &&
         std::find(edit_.map_levels.begin(), edit_.map_levels.end(), layer.level) != edit_.map_levels.end();
}

at::Tensor PromptEditController::attend(const models::AttentionLayer& layer, const StepContext& step,
                                        const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const auto rows = static_cast<int64_t>(step.roles.size());
  if (step.first_row != 0 || rows < 1 || step.roles.front() != RowRole::source || q.size(0) != rows * step.cfg_halves)
    throw std::logic_error("prompt edit: the source and its edits must run in one UNet call, source first");
  if (step.step_index < 0 || step.step_index >= edit_.mapper.size(0))
    throw std::logic_error("prompt edit: step outside the planned schedule");
  if (!layer.self) return cross(layer, step, q, k, v);
  const int s = step.step_index;
  if (rows == 1 || layer.level < edit_.self_level || s < edit_.self_begin || s >= edit_.self_end)
    return at::scaled_dot_product_attention(q, k, v);
  // Self-replacement: P_e := P_source, so out_e = P_source V_e.
  const auto source = (step.cfg_halves - 1) * rows;
  const auto edits = rows - 1;
  const auto kept = at::scaled_dot_product_attention(q.narrow(0, 0, source + 1), k.narrow(0, 0, source + 1),
                                                     v.narrow(0, 0, source + 1));
  const auto replaced = at::scaled_dot_product_attention(q.narrow(0, source, 1), k.narrow(0, source, 1),
                                                         side_by_side(v.narrow(0, source + 1, edits)));
  return at::cat({kept, apart(replaced, edits)});
}

at::Tensor PromptEditController::cross(const models::AttentionLayer& layer, const StepContext& step,
                                       const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  const auto rows = static_cast<int64_t>(step.roles.size());
  const auto edits = rows - 1;
  const auto source = (step.cfg_halves - 1) * rows;
  const int s = step.step_index;
  // Maps are summed beside the output, never instead of it: asking for them leaves the images as
  // they are, bit for bit.
  if (records(layer)) record(layer, s, q.narrow(0, source, rows), k.narrow(0, source, rows));
  if (edits == 0) return at::scaled_dot_product_attention(q, k, v);
  const auto options = q.options();
  const auto mapper = edit_.mapper[s].to(options);  // [E, T, T]
  const auto own = edit_.own[s].to(options);        // [E, T]
  const auto edit_v = v.narrow(0, source + 1, edits);
  // The rows' own share: their SDPA over values scaled per token.
  const auto scaled = at::cat({v.narrow(0, 0, source + 1), edit_v * own.unsqueeze(1).unsqueeze(-1)});
  auto out = at::scaled_dot_product_attention(q, k, scaled);
  if (!mapper_active_[s]) return out;
  // The source's share: P_source (M V_e), all edits in one SDPA.
  const auto mapped = at::einsum("eij,ehjd->ehid", {mapper, edit_v});
  const auto from_source =
      at::scaled_dot_product_attention(q.narrow(0, source, 1), k.narrow(0, source, 1), side_by_side(mapped));
  return at::cat({out.narrow(0, 0, source + 1), out.narrow(0, source + 1, edits) + apart(from_source, edits)});
}

void PromptEditController::record(const models::AttentionLayer& layer, int step, const at::Tensor& cond_q,
                                  const at::Tensor& cond_k) {
  // The conditional rows' probabilities as edited (as the original stores them), summed over heads.
  const auto rows = cond_q.size(0), edits = rows - 1;
  const double scale = 1.0 / std::sqrt(static_cast<double>(cond_q.size(-1)));
  auto probs = at::softmax(at::matmul(cond_q.to(at::kFloat), cond_k.to(at::kFloat).transpose(-1, -2)) * scale, -1);
  if (edits > 0) {
    const auto m = edit_.mapper[step].to(probs.options()), b = edit_.own[step].to(probs.options());
    const auto edited =
        at::einsum("hnt,etu->ehnu", {probs[0], m}) + probs.narrow(0, 1, edits) * b.unsqueeze(1).unsqueeze(1);
    probs = at::cat({probs.narrow(0, 0, 1), edited});
  }
  auto& sum = sums_[layer.level];
  const auto summed = probs.sum(1);  // [rows, N, T]
  sum = sum.defined() ? sum + summed : summed;
}

void PromptEditController::end_step(const StepContext& /*step*/) { ++steps_summed_; }

at::Tensor PromptEditController::summed_maps(int level) const {
  const auto found = sums_.find(level);
  return found == sums_.end() ? at::Tensor() : found->second;
}

int64_t PromptEditController::heads_per_step(int level) const {
  const auto found = heads_.find(level);
  return found == heads_.end() ? 0 : found->second;
}

}  // namespace vsp::attention
