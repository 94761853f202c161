// Shared attention (StyleAligned) on synthetic tensors against attention computed by hand: targets
// attend to [their own K; the reference's K] with AdaIN of queries and keys to the reference's.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "vsp/attention/shared_attention.hpp"

namespace {

vsp::attention::StepContext call(const std::string& role, int64_t rows) {
  vsp::attention::StepContext context;
  context.step_index = 0;
  context.num_steps = 1;
  context.cfg_halves = 2;
  context.first_row = role == "reference" ? 0 : 1;
  context.roles.assign(rows, role);
  return context;
}

at::Tensor by_hand(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(q.size(-1))), -1).matmul(v);
}

// AdaIN over the tokens (dim 1 of a [H, N, d] row), written out: unbiased variance, eps 1e-5.
at::Tensor adain(const at::Tensor& x, const at::Tensor& reference) {
  const auto n = static_cast<double>(x.size(1));
  const auto stats = [n](const at::Tensor& t) {
    const auto mean = t.sum(1, true) / n;
    const auto std = (((t - mean) * (t - mean)).sum(1, true) / (n - 1) + 1e-5).sqrt();
    return std::make_pair(mean, std);
  };
  const auto [mean, std] = stats(x);
  const auto [ref_mean, ref_std] = stats(reference);
  return (x - mean) / std * ref_std + ref_mean;
}

vsp::models::AttentionLayer self_layer() {
  vsp::models::AttentionLayer l;
  l.id = 0;
  l.self = true;
  l.name = "up_blocks.1.attentions.0.transformer_blocks.0.attn1";
  return l;
}

class SharedAttention : public testing::TestWithParam<bool> {};

TEST_P(SharedAttention, TargetsAttendToTheirOwnAndTheReferenceKeysAndValues) {
  const bool with_adain = GetParam();
  torch::manual_seed(3);
  const int64_t targets = 2, heads = 2, tokens = 6, dim = 4;
  const auto ref_q = torch::randn({2, heads, tokens, dim}) * 2 + 1, ref_k = torch::randn({2, heads, tokens, dim}) * 3,
             ref_v = torch::randn({2, heads, tokens, dim});
  const auto q = torch::randn({2 * targets, heads, tokens, dim}), k = torch::randn({2 * targets, heads, tokens, dim}),
             v = torch::randn({2 * targets, heads, tokens, dim});
  vsp::attention::SharedAttentionController shared({true}, {true}, with_adain);
  const auto ref_out = shared.attend(self_layer(), call("reference", 1), ref_q, ref_k, ref_v);
  EXPECT_TRUE(torch::allclose(ref_out, by_hand(ref_q, ref_k, ref_v), 1e-5, 1e-6)) << "the reference is untouched";
  const auto out = shared.attend(self_layer(), call("target", targets), q, k, v);
  for (int64_t row = 0; row < 2 * targets; ++row) {
    const int64_t half = row / targets;
    const auto query = with_adain ? adain(q[row], ref_q[half]) : q[row];
    const auto key = with_adain ? adain(k[row], ref_k[half]) : k[row];
    const auto expected = by_hand(query, torch::cat({key, ref_k[half]}, 1), torch::cat({v[row], ref_v[half]}, 1));
    EXPECT_TRUE(torch::allclose(out[row], expected, 1e-4, 1e-5)) << "row " << row;
  }
}

INSTANTIATE_TEST_SUITE_P(Adain, SharedAttention, testing::Bool(),
                         [](const auto& info) { return info.param ? std::string("adain") : std::string("plain"); });

TEST(SharedAttentionStatistics, MeanAndStdAreOverTheTokens) {
  const auto x = torch::tensor({1.0f, 2.0f, 4.0f}).view({1, 1, 3, 1});
  const auto [mean, std] = vsp::attention::token_mean_std(x);
  EXPECT_FLOAT_EQ(mean.item<float>(), 7.0f / 3);
  EXPECT_NEAR(std.item<float>(), std::sqrt(7.0 / 3 + 1e-5), 1e-6);  // unbiased variance of 1, 2, 4 is 7/3
}

}  // namespace
