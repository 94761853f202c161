// Attention maps on synthetic tensors: the chosen queries' probabilities against softmax by hand,
// and a recorder around the style swap that leaves every output unchanged.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "vsp/attention/attention_maps.hpp"
#include "vsp/attention/style_swap.hpp"

namespace {

using vsp::attention::RowRole;

vsp::attention::StepContext call(vsp::attention::RowRole role, int64_t first_row, int64_t rows) {
  vsp::attention::StepContext context;
  context.step_index = 1;
  context.num_steps = 2;
  context.cfg_halves = 2;
  context.first_row = first_row;
  context.roles.assign(rows, role);
  return context;
}

TEST(AttentionMaps, ChosenQueriesMatchSoftmaxByHand) {
  torch::manual_seed(5);
  const auto q = torch::randn({2, 3, 16, 4}), k = torch::randn({3, 16, 4});
  const auto maps = vsp::attention::query_attention(q, k, {0, 9});
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{2, 2, 16}));
  for (int64_t b = 0; b < 2; ++b) {
    for (const auto& [column, token] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {1, 9}}) {
      auto by_hand = torch::zeros({16});
      for (int64_t h = 0; h < 3; ++h) by_hand += torch::softmax(k[h].matmul(q[b][h][token]) / 2.0, 0) / 3.0;
      EXPECT_TRUE(torch::allclose(maps[b][column], by_hand, 1e-5, 1e-6)) << b << " " << token;
    }
  }
  EXPECT_TRUE(torch::allclose(maps.sum(-1), torch::ones({2, 2})));
}

TEST(AttentionMaps, RecorderReadsTheSwapWithoutChangingIt) {
  torch::manual_seed(6);
  vsp::models::AttentionLayer layer;
  layer.id = 0;
  layer.self = true;
  layer.level = 1;
  layer.name = "up_blocks.1.attentions.0.transformer_blocks.0.attn1";
  vsp::attention::StyleSwapController swap({true}, {true, true});
  vsp::attention::StyleSwapController plain({true}, {true, true});
  vsp::attention::AttentionMapRequest request;
  request.pixels = {{0, 0}, {63, 32}};  // tokens 0 and 2 * 4 + 3 on a 4x4 grid of a 64x64 image
  request.step = 1;
  request.layers = {true};
  request.level = 1;
  request.latent_width = request.latent_height = 8;
  request.width = request.height = 64;
  vsp::attention::AttentionMapRecorder recorder(swap, request, 3);
  const auto ref_q = torch::randn({2, 2, 16, 4}), ref_k = torch::randn({2, 2, 16, 4}),
             ref_v = torch::randn({2, 2, 16, 4});
  const auto q = torch::randn({6, 2, 16, 4}), k = torch::randn({6, 2, 16, 4}), v = torch::randn({6, 2, 16, 4});
  EXPECT_TRUE(torch::equal(recorder.attend(layer, call(RowRole::reference, 0, 1), ref_q, ref_k, ref_v),
                           plain.attend(layer, call(RowRole::reference, 0, 1), ref_q, ref_k, ref_v)));
  // Targets 0-1 in one call, target 2 in the next (chunks of two), as the denoiser runs them.
  const auto first = q.index_select(0, torch::tensor({0, 1, 3, 4})), last = q.index_select(0, torch::tensor({2, 5}));
  const auto first_kv = k.index_select(0, torch::tensor({0, 1, 3, 4})),
             last_kv = k.index_select(0, torch::tensor({2, 5}));
  EXPECT_TRUE(torch::equal(recorder.attend(layer, call(RowRole::target, 1, 2), first, first_kv, first_kv),
                           plain.attend(layer, call(RowRole::target, 1, 2), first, first_kv, first_kv)));
  recorder.attend(layer, call(RowRole::target, 3, 1), last, last_kv, last_kv);
  const auto maps = recorder.maps();
  ASSERT_EQ(maps.sizes(), (std::vector<int64_t>{3, 2, 4, 4}));
  // Target t's conditional row is q[3 + t]; it attends to the conditional reference's keys.
  for (int64_t t = 0; t < 3; ++t) {
    const auto expected = vsp::attention::query_attention(q[3 + t].unsqueeze(0), ref_k[1], {0, 11})[0];
    EXPECT_TRUE(torch::allclose(maps[t].view({2, 16}), expected, 1e-5, 1e-6)) << "target " << t;
  }
}

}  // namespace
