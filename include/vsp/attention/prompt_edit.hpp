#pragma once
#include <map>
#include <string>
#include <vector>

#include "vsp/attention/controller.hpp"

namespace vsp::attention {

// What prompt-to-prompt does to the attention of each edited row, step by step (the pipeline
// builds it from the token alignment; docs/methods.md, section 3).
struct PromptEdit {
  // Cross-attention, per step s and edited row e: P_e' = P_source · mapper[s][e] + P_e · diag(own[s][e]).
  // Replace, refine, reweight and the cross-replace schedule all reduce to this form.
  at::Tensor mapper;  // float [steps, edits, T, T]
  at::Tensor own;     // float [steps, edits, T]
  // Self-attention replacement: in steps [self_begin, self_end), in the self-attention layers at
  // level self_level or coarser, the edited rows take the source's probabilities.
  int self_begin = 0, self_end = 0;
  int self_level = 2;
  // Levels whose cross-attention maps (down and up blocks, as edited) are summed for local blend
  // and the attention store.
  std::vector<int> map_levels;
};

// Prompt-to-prompt's attention control (Hertz et al.), on the conditional half of a CFG batch
// [source, edits...]; the unconditional rows are untouched. Every edit is linear in V, so edits run
// fused: P_source · (M V_e) is one SDPA with the source's queries and keys over the mapped values
// of all edited rows at once, P_e · diag(b) V_e is the rows' own SDPA over scaled values, and
// self-replacement is SDPA(Q_source, K_source, V_e). Probabilities are materialised only in the
// layers whose maps are summed, beside the fused output, which they never change.
class PromptEditController : public AttentionController {
 public:
  PromptEditController(PromptEdit edit, const std::vector<models::AttentionLayer>& layers);
  at::Tensor attend(const models::AttentionLayer& layer, const StepContext& step, const at::Tensor& q,
                    const at::Tensor& k, const at::Tensor& v) override;

  // The conditional rows' cross-attention probabilities at `level`, summed over the steps run so
  // far, the heads and the layers: float [rows, N, T] (undefined before the first step).
  at::Tensor summed_maps(int level) const;
  // Heads times layers summed at `level` in each step: the divisor of the original's mean.
  int64_t heads_per_step(int level) const;
  // Steps summed so far in summed_maps.
  int steps_summed() const { return steps_summed_; }
  void end_step(const StepContext& step) override;

 private:
  at::Tensor cross(const models::AttentionLayer& layer, const StepContext& step, const at::Tensor& q,
                   const at::Tensor& k, const at::Tensor& v);
  bool records(const models::AttentionLayer& layer) const;
  void record(const models::AttentionLayer& layer, int step, const at::Tensor& cond_q, const at::Tensor& cond_k);

  PromptEdit edit_;
  std::vector<bool> mapper_active_;  // per step: whether the source's share is non-zero
  std::map<int, at::Tensor> sums_;
  std::map<int, int64_t> heads_;
  int steps_summed_ = 0;
};

}  // namespace vsp::attention
