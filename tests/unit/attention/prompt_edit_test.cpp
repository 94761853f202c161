// Prompt-to-prompt's controller on synthetic tensors, against probabilities edited by hand: the
// fused cross-attention edit (P_source M + P_edit diag(own)) and self-replacement equal the
// explicit computation, the unconditional half is untouched, and a layer whose maps are summed
// gives the same output while storing the edited probabilities.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vsp/attention/prompt_edit.hpp"

namespace {

using vsp::attention::RowRole;

using vsp::attention::PromptEdit;
using vsp::attention::PromptEditController;
using vsp::attention::StepContext;

constexpr int64_t kTokens = 5, kHeads = 2, kQueries = 6, kDim = 4, kEdits = 2, kSteps = 3;

StepContext call(int step) {
  StepContext context;
  context.step_index = step;
  context.num_steps = kSteps;
  context.cfg_halves = 2;
  context.roles = {RowRole::source, RowRole::edit, RowRole::edit};
  return context;
}

vsp::models::AttentionLayer layer(int id, bool self, int level, const std::string& block = "up_blocks.0") {
  vsp::models::AttentionLayer l;
  l.id = id;
  l.self = self;
  l.level = level;
  l.block = block;
  l.heads = kHeads;
  l.head_dim = kDim;
  return l;
}

at::Tensor probabilities(const at::Tensor& q, const at::Tensor& k) {
  return torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(kDim)), -1);
}

PromptEdit random_edit(std::vector<int> map_levels) {
  PromptEdit edit;
  edit.mapper = torch::rand({kSteps, kEdits, kTokens, kTokens});
  edit.mapper[2].zero_();  // past the replace window: the rows' own attention alone
  edit.own = torch::rand({kSteps, kEdits, kTokens}) * 2 - 0.5;
  edit.self_begin = 0;
  edit.self_end = 2;
  edit.self_level = 2;
  edit.map_levels = std::move(map_levels);
  return edit;
}

// [uncond source, uncond edits..., cond source, cond edits...]
struct Batch {
  at::Tensor q, k, v;
};
Batch batch(int64_t keys) {
  const int64_t rows = 2 * (1 + kEdits);
  return {torch::randn({rows, kHeads, kQueries, kDim}), torch::randn({rows, kHeads, keys, kDim}),
          torch::randn({rows, kHeads, keys, kDim})};
}

at::Tensor cross_by_hand(const PromptEdit& edit, int step, const Batch& b) {
  const auto p = probabilities(b.q, b.k);
  auto out = p.matmul(b.v);
  const int64_t source = 1 + kEdits;
  for (int64_t e = 0; e < kEdits; ++e) {
    const auto row = source + 1 + e;
    const auto edited = torch::matmul(p[source], edit.mapper[step][e]) + p[row] * edit.own[step][e];
    out[row] = edited.matmul(b.v[row]);
  }
  return out;
}

TEST(PromptEditController, CrossAttentionEditEqualsTheProbabilitiesEditedByHand) {
  torch::manual_seed(0);
  const auto edit = random_edit({});
  const std::vector<vsp::models::AttentionLayer> layers{layer(0, false, 1)};
  PromptEditController controller(edit, layers);
  for (int step = 0; step < kSteps; ++step) {
    const auto b = batch(kTokens);
    const auto got = controller.attend(layers[0], call(step), b.q, b.k, b.v);
    EXPECT_TRUE(torch::allclose(got, cross_by_hand(edit, step, b), 1e-5, 1e-5)) << "step " << step;
    // The unconditional half is plain attention.
    EXPECT_TRUE(torch::allclose(got.narrow(0, 0, 3), probabilities(b.q, b.k).matmul(b.v).narrow(0, 0, 3), 1e-5, 1e-5));
  }
}

TEST(PromptEditController, SummedLayersGiveTheSameOutputAndStoreTheEditedMaps) {
  torch::manual_seed(1);
  const auto edit = random_edit({1});
  const std::vector<vsp::models::AttentionLayer> layers{layer(0, false, 1, "down_blocks.1"),
                                                        layer(1, false, 1, "mid_block")};
  PromptEditController controller(edit, layers);
  EXPECT_EQ(controller.heads_per_step(1), kHeads);  // the mid block's maps are not summed
  at::Tensor expected_sum;
  for (int step = 0; step < kSteps; ++step) {
    const auto b = batch(kTokens);
    const auto got = controller.attend(layers[0], call(step), b.q, b.k, b.v);
    EXPECT_TRUE(torch::allclose(got, cross_by_hand(edit, step, b), 1e-5, 1e-5)) << "step " << step;
    controller.attend(layers[1], call(step), b.q, b.k, b.v);
    const auto p = probabilities(b.q, b.k).narrow(0, 1 + kEdits, 1 + kEdits).clone();
    for (int64_t e = 0; e < kEdits; ++e)
      p[1 + e] = torch::matmul(p[0], edit.mapper[step][e]) + p[1 + e] * edit.own[step][e];
    expected_sum = expected_sum.defined() ? expected_sum + p.sum(1) : p.sum(1);
    controller.end_step(call(step));
  }
  EXPECT_EQ(controller.steps_summed(), kSteps);
  EXPECT_TRUE(torch::allclose(controller.summed_maps(1), expected_sum, 1e-5, 1e-5));
  EXPECT_FALSE(controller.summed_maps(2).defined());
}

TEST(PromptEditController, SelfReplacementTakesTheSourceProbabilitiesInCoarseLayersAndSteps) {
  torch::manual_seed(2);
  const auto edit = random_edit({});
  const std::vector<vsp::models::AttentionLayer> layers{layer(0, true, 2), layer(1, true, 1)};
  PromptEditController controller(edit, layers);
  for (int step = 0; step < kSteps; ++step) {
    for (const auto& l : layers) {
      const auto b = batch(kQueries);
      const auto p = probabilities(b.q, b.k);
      auto want = p.matmul(b.v);
      if (l.level >= 2 && step < 2)
        for (int64_t e = 0; e < kEdits; ++e) want[4 + e] = p[3].matmul(b.v[4 + e]);
      EXPECT_TRUE(torch::allclose(controller.attend(l, call(step), b.q, b.k, b.v), want, 1e-5, 1e-5))
          << "step " << step << " level " << l.level;
    }
  }
}

}  // namespace
