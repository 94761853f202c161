// The style-swap controller and the layer/step selection, on synthetic tensors, against
// attention computed by hand (the swap and shared attention); the layer presets on the tiny
// exports of each family.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "vsp/attention/shared_attention.hpp"
#include "vsp/attention/style_swap.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/config/selection.hpp"
#include "vsp/error.hpp"

namespace {

using vsp::attention::RowRole;

using vsp::models::AttentionLayer;

// A call of `rows` rows of one role at step `step` of `steps`, with CFG halves.
vsp::attention::StepContext call(int step, int steps, vsp::attention::RowRole role, int64_t rows) {
  vsp::attention::StepContext context;
  context.step_index = step;
  context.num_steps = steps;
  context.timestep = 999;
  context.cfg_halves = 2;
  context.first_row = role == RowRole::reference ? 0 : 1;
  context.roles.assign(rows, role);
  return context;
}

at::Tensor by_hand(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(q.size(-1))), -1).matmul(v);
}

AttentionLayer layer(int id, bool self, const std::string& name) {
  AttentionLayer l;
  l.id = id;
  l.self = self;
  l.name = name;
  l.block = name.substr(0, name.find(".attentions"));
  l.attention = name.substr(0, name.find(".transformer_blocks"));
  return l;
}

TEST(StyleSwap, TargetsTakeTheReferenceKeysAndValuesOfTheirHalf) {
  torch::manual_seed(0);
  const int64_t targets = 3, heads = 2, tokens = 5, dim = 4;
  const auto ref_q = torch::randn({2, heads, tokens, dim}), ref_k = torch::randn({2, heads, tokens, dim}),
             ref_v = torch::randn({2, heads, tokens, dim});
  const auto q = torch::randn({2 * targets, heads, tokens, dim}), k = torch::randn({2 * targets, heads, tokens, dim}),
             v = torch::randn({2 * targets, heads, tokens, dim});
  const auto self_layer = layer(0, true, "up_blocks.1.attentions.0.transformer_blocks.0.attn1");
  vsp::attention::StyleSwapController swap({true}, {true});

  const auto ref_out = swap.attend(self_layer, call(0, 1, RowRole::reference, 1), ref_q, ref_k, ref_v);
  EXPECT_TRUE(torch::allclose(ref_out, by_hand(ref_q, ref_k, ref_v), 1e-5, 1e-6)) << "the reference is untouched";
  const auto out = swap.attend(self_layer, call(0, 1, RowRole::target, targets), q, k, v);
  for (int64_t row = 0; row < 2 * targets; ++row) {
    const int64_t half = row / targets;
    const auto expected = by_hand(q[row], ref_k[half], ref_v[half]);
    EXPECT_TRUE(torch::allclose(out[row], expected, 1e-5, 1e-6)) << "row " << row;
  }
}

TEST(StyleSwap, InactiveLayersStepsAndCrossAttentionAreUntouched) {
  torch::manual_seed(1);
  const auto q = torch::randn({4, 2, 5, 4}), k = torch::randn({4, 2, 5, 4}), v = torch::randn({4, 2, 5, 4});
  vsp::attention::StyleSwapController swap({true, false}, {false, true});
  const auto self_layer = layer(0, true, "up_blocks.1.attentions.0.transformer_blocks.0.attn1");
  const auto other = layer(1, true, "up_blocks.1.attentions.1.transformer_blocks.0.attn1");
  const auto own = by_hand(q, k, v);
  EXPECT_TRUE(torch::allclose(swap.attend(self_layer, call(0, 2, RowRole::target, 2), q, k, v), own, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(swap.attend(other, call(1, 2, RowRole::target, 2), q, k, v), own, 1e-5, 1e-6));
  const auto cross = layer(0, false, "up_blocks.1.attentions.0.transformer_blocks.0.attn2");
  EXPECT_TRUE(torch::allclose(swap.attend(cross, call(1, 2, RowRole::target, 2), q, k, v), own, 1e-5, 1e-6));
}

TEST(StyleSwap, TheReferenceKeysAndValuesLastOneStep) {
  vsp::attention::StyleSwapController swap({true}, {true, true});
  const auto self_layer = layer(0, true, "up_blocks.1.attentions.0.transformer_blocks.0.attn1");
  const auto t = torch::randn({2, 1, 3, 4});
  swap.attend(self_layer, call(0, 2, RowRole::reference, 1), t, t, t);
  EXPECT_NO_THROW(swap.attend(self_layer, call(0, 2, RowRole::target, 1), t, t, t));
  swap.end_step(call(0, 2, RowRole::target, 1));
  EXPECT_THROW(swap.attend(self_layer, call(1, 2, RowRole::target, 1), t, t, t), vsp::Error);
}

TEST(StyleSwap, TargetsBeforeTheirReferenceIsAnError) {
  vsp::attention::StyleSwapController swap({true}, {true});
  const auto t = torch::randn({2, 1, 3, 4});
  EXPECT_THROW(swap.attend(layer(0, true, "up_blocks.1.attentions.0.transformer_blocks.0.attn1"),
                           call(0, 1, RowRole::target, 1), t, t, t),
               vsp::Error);
}

std::vector<AttentionLayer> table() {
  std::vector<AttentionLayer> layers;
  int id = 0;
  for (const std::string attention : {"down_blocks.1.attentions.0", "up_blocks.0.attentions.2",
                                      "up_blocks.1.attentions.0", "up_blocks.1.attentions.1"}) {
    layers.push_back(layer(id++, true, attention + ".transformer_blocks.0.attn1"));
    layers.push_back(layer(id++, false, attention + ".transformer_blocks.0.attn2"));
  }
  return layers;
}

TEST(Selection, LayersByModuleAndBySlice) {
  const auto layers = table();
  EXPECT_EQ(vsp::attention::select_self_layers(layers, {"up_blocks.1"}),
            (std::vector<bool>{false, false, false, false, true, false, true, false}));
  EXPECT_EQ(vsp::attention::select_self_layers(layers, {"up_blocks.0.attentions.2", "up_blocks.1"}),
            (std::vector<bool>{false, false, true, false, true, false, true, false}));
  EXPECT_EQ(vsp::attention::select_self_layers(layers, {"self[-2:]"}),
            vsp::attention::select_self_layers(layers, {"up_blocks.1"}));
  EXPECT_EQ(vsp::attention::select_self_layers(layers, {"self[0:1]"}),
            (std::vector<bool>{true, false, false, false, false, false, false, false}));
  try {
    vsp::attention::select_self_layers(layers, {"up_blocks.7"});
    FAIL() << "an unknown module must be refused";
  } catch (const vsp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("up_blocks.1"), std::string::npos) << e.what();
  }
  // "up_blocks.1" must not match "up_blocks.10..." style prefixes.
  EXPECT_THROW(vsp::attention::select_self_layers(layers, {"up_blocks.1.attentions.0.trans"}), vsp::Error);
}

// The presets name the same place in every family's decoder, read from the export's layer table.
TEST(Selection, PresetsFitEveryFamily) {
  using vsp::attention::select_self_layers;
  const std::filesystem::path data(VSP_TEST_DATA);
  const auto sdxl = vsp::models::Manifest::load(data / "tiny").attention_layers;
  EXPECT_EQ(select_self_layers(sdxl, {"default"}), select_self_layers(sdxl, {"up_blocks.1"}));
  EXPECT_EQ(select_self_layers(sdxl, {"strong"}),
            select_self_layers(sdxl, {"up_blocks.0.attentions.2", "up_blocks.1"}));
  for (const char* sd : {"sd1-tiny", "sd2-tiny"}) {
    const auto layers = vsp::models::Manifest::load(data / sd).attention_layers;
    EXPECT_EQ(select_self_layers(layers, {"default"}), select_self_layers(layers, {"up_blocks.3"})) << sd;
    EXPECT_EQ(select_self_layers(layers, {"strong"}),
              select_self_layers(layers, {"up_blocks.2.attentions.2", "up_blocks.3"}))
        << sd;
  }
  // The synthetic table: its last decoder block is up_blocks.1.
  EXPECT_EQ(select_self_layers(table(), {"strong"}),
            select_self_layers(table(), {"up_blocks.0.attentions.2", "up_blocks.1"}));
}

TEST(Selection, StepsByIndexFractionAndAll) {
  using vsp::attention::select_steps;
  EXPECT_EQ(select_steps("all", 3), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(select_steps("0-1,4", 5), (std::vector<bool>{true, true, false, false, true}));
  EXPECT_EQ(select_steps("0.0-0.5", 4), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(select_steps("0.5-1.0", 3), (std::vector<bool>{false, false, true}));  // i/3 >= 0.5
  EXPECT_THROW(select_steps("first half", 10), vsp::Error);
}

TEST(Selection, SelectionsThatSelectNothingAreErrors) {
  using vsp::attention::select_steps;
  const auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const vsp::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { select_steps("999", 3); }).find("past the last step (2 with 3 steps)"), std::string::npos);
  EXPECT_NE(message([] { select_steps("0-99999999999", 3); }).find("past the last step"), std::string::npos);
  EXPECT_NE(message([] { select_steps("9-2", 10); }).find("backwards"), std::string::npos);
  EXPECT_NE(message([] { select_steps("0.5-0.2", 10); }).find("low to high"), std::string::npos);
  EXPECT_NE(message([] { select_steps("0.9-1.0", 4); }).find("select no step"), std::string::npos);
  EXPECT_THROW(select_steps("", 4), vsp::Error);
  const auto layers = table();
  using vsp::attention::select_self_layers;
  EXPECT_NE(message([&] { select_self_layers(layers, {}); }).find("empty"), std::string::npos);
  EXPECT_NE(message([&] { select_self_layers(layers, {"self[5:2]"}); }).find("selects no layers"), std::string::npos);
  EXPECT_NE(message([&] { select_self_layers(layers, {"self[99999999999999999999:]"}); }).find("slice"),
            std::string::npos);
  // Python slices clamp any bound; a layer's own name selects that layer.
  EXPECT_EQ(select_self_layers(layers, {"self[-99999999999:]"}), select_self_layers(layers, {"self[0:]"}));
  std::string last;
  for (const auto& l : layers)
    if (l.self) last = l.name;
  const auto one = select_self_layers(layers, {last});
  EXPECT_EQ(std::count(one.begin(), one.end(), true), 1);
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

// Shared attention (StyleAligned): targets attend to [their own K; the reference's K] with AdaIN
// of queries and keys to the reference's.
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
  const auto ref_out = shared.attend(layer(0, true, "up_blocks.1.attentions.0.transformer_blocks.0.attn1"),
                                     call(0, 1, RowRole::reference, 1), ref_q, ref_k, ref_v);
  EXPECT_TRUE(torch::allclose(ref_out, by_hand(ref_q, ref_k, ref_v), 1e-5, 1e-6)) << "the reference is untouched";
  const auto out = shared.attend(layer(0, true, "up_blocks.1.attentions.0.transformer_blocks.0.attn1"),
                                 call(0, 1, RowRole::target, targets), q, k, v);
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
