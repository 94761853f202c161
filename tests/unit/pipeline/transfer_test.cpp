// Style injection's pipeline on the tiny SDXL export: many-to-many inverts every picture once (all
// of them in one UNet call per step, counted through vsp::attention), recompute and cache give the
// same latents; the AdaIN of the initial latent by hand.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "vsp/attention/controller.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/transfer.hpp"

namespace {

const std::filesystem::path kData = std::filesystem::path(VSP_TEST_DATA);

vsp::io::Image picture(int seed) {
  torch::manual_seed(seed);
  const auto pixels = torch::randint(0, 256, {64, 64, 3}, torch::kUInt8);
  return {64, 64, 3, std::vector<uint8_t>(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel())};
}

vsp::pipeline::TransferRequest two_by_two() {
  vsp::pipeline::TransferRequest r;
  r.contents = {picture(1), picture(2)};
  r.styles = {picture(3), picture(4)};
  r.pairs = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  r.width = r.height = 64;
  r.steps = 4;
  r.start_step = 1;
  return r;
}

TEST(Transfer, ManyToManyInvertsEachPictureOnce) {
  const auto model = vsp::models::Model::load(kData / "tiny");
  const auto layers = static_cast<long long>(model->manifest.attention_layers.size());
  auto request = two_by_two();
  const auto count = [&](const vsp::pipeline::TransferRequest& r) {
    const auto before = vsp::attention::attention_call_count();
    const auto result = vsp::pipeline::style_injection(*model, r, nullptr);
    EXPECT_EQ(result.latents.sizes(), (std::vector<int64_t>{4, 4, 8, 8}));
    return std::make_pair((vsp::attention::attention_call_count() - before) / layers, result.latents);
  };
  // Recompute: 4 inversion calls (the four pictures together), then per sampling step one call for
  // the pictures and one for the four stylised rows.
  const auto [recompute_calls, recomputed] = count(request);
  EXPECT_EQ(recompute_calls, 4 + 3 * 2);
  request.cache_features = true;
  const auto [cache_calls, cached] = count(request);
  EXPECT_EQ(cache_calls, 4 + 3);
  EXPECT_TRUE(torch::equal(recomputed, cached));
  request.injection = false;
  const auto [plain_calls, plain] = count(request);
  EXPECT_EQ(plain_calls, 4 + 3);
  EXPECT_FALSE(torch::allclose(plain, cached));
}

TEST(Transfer, AdainTakesTheStylesChannelStatistics) {
  torch::manual_seed(0);
  const auto content = torch::randn({1, 4, 8, 8}) * 3 + 1, style = torch::randn({1, 4, 8, 8}) * 0.5 - 2;
  const auto out = vsp::pipeline::adain_latent(content, style);
  EXPECT_TRUE(torch::allclose(out.mean({2, 3}), style.mean({2, 3}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(out.std({2, 3}, true), style.std({2, 3}, true), 1e-5, 1e-5));
  // The content's normalised pattern survives.
  const auto normalised = [](const at::Tensor& x) { return (x - x.mean({2, 3}, true)) / x.std({2, 3}, true, true); };
  EXPECT_TRUE(torch::allclose(normalised(out), normalised(content), 1e-4, 1e-5));
}

}  // namespace
