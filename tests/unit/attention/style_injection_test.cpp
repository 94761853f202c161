// StyleID's injection controller on synthetic tensors, against attention computed by hand: the
// stylised rows blend their queries with their content's and attend, with the temperature, to their
// style's keys and values; features recorded in sampling (recompute) are dropped when the step
// ends, those recorded in the inversion (cache) are kept by timestep.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vsp/attention/style_injection.hpp"
#include "vsp/error.hpp"

namespace {

using vsp::attention::RowRole;

using vsp::attention::Phase;
using vsp::attention::StepContext;
using vsp::attention::StyleInjectionController;

StepContext call(Phase phase, double timestep, int64_t first_row, std::vector<vsp::attention::RowRole> roles) {
  StepContext context;
  context.step_index = 0;
  context.num_steps = 2;
  context.timestep = timestep;
  context.phase = phase;
  context.first_row = first_row;
  context.roles = std::move(roles);
  return context;
}

vsp::models::AttentionLayer layer(int id, bool self) {
  vsp::models::AttentionLayer l;
  l.id = id;
  l.self = self;
  l.name = "up_blocks.1.attentions.0.transformer_blocks.0.attn" + std::string(self ? "1" : "2");
  return l;
}

at::Tensor by_hand(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double tau) {
  return torch::softmax(tau * torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(q.size(-1))), -1).matmul(v);
}

struct Images {
  at::Tensor q, k, v;  // [2 contents + 2 styles, H, N, d]
};

Images images() { return {torch::randn({4, 2, 6, 4}), torch::randn({4, 2, 6, 4}), torch::randn({4, 2, 6, 4})}; }

const std::vector<vsp::attention::RowRole> kImageRoles = {RowRole::content, RowRole::content, RowRole::style,
                                                          RowRole::style};

TEST(StyleInjection, StylisedRowsBlendQueriesAndTakeTheirStylesKeysAndValues) {
  torch::manual_seed(0);
  const double gamma = 0.3, tau = 1.5;
  // Pairs (content, style): (1, 0), (0, 1), (1, 1), after the 4 image rows.
  StyleInjectionController controller({true, false}, gamma, tau, 2, {{1, 0}, {0, 1}, {1, 1}}, 4, false);
  const auto pictures = images();
  const auto image_out =
      controller.attend(layer(0, true), call(Phase::sampling, 981, 0, kImageRoles), pictures.q, pictures.k, pictures.v);
  EXPECT_TRUE(torch::allclose(image_out, by_hand(pictures.q, pictures.k, pictures.v, 1.0), 1e-5, 1e-6));

  // A chunk of the last two stylised rows (global rows 5 and 6: pairs 1 and 2).
  const auto q = torch::randn({2, 2, 6, 4}), k = torch::randn({2, 2, 6, 4}), v = torch::randn({2, 2, 6, 4});
  const auto out =
      controller.attend(layer(0, true), call(Phase::sampling, 981, 5, {RowRole::stylised, RowRole::stylised}), q, k, v);
  const std::vector<std::pair<int64_t, int64_t>> pairs = {{0, 1}, {1, 1}};
  for (int64_t row = 0; row < 2; ++row) {
    const auto [content, style] = pairs[row];
    const auto blended = gamma * pictures.q[content] + (1 - gamma) * q[row];
    const auto expected = by_hand(blended, pictures.k[2 + style], pictures.v[2 + style], tau);
    EXPECT_TRUE(torch::allclose(out[row], expected, 1e-5, 1e-5)) << "row " << row;
  }
  // Not injected: another layer, and cross-attention.
  EXPECT_TRUE(torch::allclose(
      controller.attend(layer(1, true), call(Phase::sampling, 981, 5, {RowRole::stylised, RowRole::stylised}), q, k, v),
      by_hand(q, k, v, 1.0), 1e-5, 1e-6));
  EXPECT_TRUE(
      torch::allclose(controller.attend(layer(0, false),
                                        call(Phase::sampling, 981, 5, {RowRole::stylised, RowRole::stylised}), q, k, v),
                      by_hand(q, k, v, 1.0), 1e-5, 1e-6));

  // Recompute: the step's features go when it ends.
  controller.end_step(call(Phase::sampling, 981, 5, {RowRole::stylised}));
  EXPECT_THROW(
      controller.attend(layer(0, true), call(Phase::sampling, 981, 5, {RowRole::stylised, RowRole::stylised}), q, k, v),
      vsp::Error);
}

TEST(StyleInjection, CacheKeepsTheInversionsFeaturesByTimestep) {
  torch::manual_seed(1);
  StyleInjectionController controller({true}, 0.75, 1.5, 2, {{0, 0}}, 0, true);
  const auto at_21 = images(), at_1 = images();
  // The inversion walks up: timestep 1, then 21; nothing is dropped at the steps' ends.
  controller.attend(layer(0, true), call(Phase::inversion, 1, 0, kImageRoles), at_1.q, at_1.k, at_1.v);
  controller.end_step(call(Phase::inversion, 1, 0, kImageRoles));
  controller.attend(layer(0, true), call(Phase::inversion, 21, 0, kImageRoles), at_21.q, at_21.k, at_21.v);
  controller.end_step(call(Phase::inversion, 21, 0, kImageRoles));
  const auto q = torch::randn({1, 2, 6, 4});
  for (const auto& [timestep, pictures] : {std::make_pair(21.0, at_21), std::make_pair(1.0, at_1)}) {
    const auto out =
        controller.attend(layer(0, true), call(Phase::sampling, timestep, 0, {RowRole::stylised}), q, q, q);
    const auto expected = by_hand(0.75 * pictures.q[0] + 0.25 * q[0], pictures.k[2], pictures.v[2], 1.5);
    EXPECT_TRUE(torch::allclose(out[0], expected, 1e-5, 1e-5)) << "timestep " << timestep;
    controller.end_step(call(Phase::sampling, timestep, 0, {RowRole::stylised}));
  }
}

}  // namespace
