// Style injection's pipeline on the tiny SDXL export: many-to-many inverts every picture once (all
// of them in one UNet call per step, counted through vsp::attention), recompute and cache give the
// same latents; the AdaIN of the initial latent by hand.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <filesystem>

#include "vsp/attention/controller.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/config/selection.hpp"
#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/transfer.hpp"

namespace {

const std::filesystem::path kData = std::filesystem::path(VSP_TEST_DATA);

const std::filesystem::path kPictures =
    std::filesystem::temp_directory_path() / ("vsp_transfer_test_" + std::to_string(::getpid()));

// A random 64x64 picture, written as a PNG into kPictures.
std::filesystem::path picture(int seed) {
  torch::manual_seed(seed);
  const auto pixels = torch::randint(0, 256, {64, 64, 3}, torch::kUInt8);
  const auto folder = kPictures;
  std::filesystem::create_directories(folder);
  const auto file = folder / ("picture_" + std::to_string(seed) + ".png");
  vsp::io::write_png(
      file, {64, 64, 3, std::vector<uint8_t>(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel())});
  return file;
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
    const auto result =
        vsp::pipeline::style_injection(*model, vsp::pipeline::prepare_transfer(model->manifest, r), nullptr);
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
  std::filesystem::remove_all(kPictures);
}

// prepare_transfer runs every check before any picture is read: knobs out of range are usage
// errors, and pictures that do not exist are not its concern (the planner checks them).
TEST(Transfer, PrepareChecksTheKnobsWithoutReadingPictures) {
  const auto manifest = vsp::models::Manifest::load(kData / "tiny");
  vsp::pipeline::TransferRequest r;
  r.contents = {"/nonexistent/content.png"};
  r.styles = {"/nonexistent/style.png"};
  r.pairs = {{0, 0}};
  r.width = r.height = 64;
  r.steps = 4;
  const auto plan = vsp::pipeline::prepare_transfer(manifest, r);
  EXPECT_EQ(plan.layers, vsp::attention::select_self_layers(manifest.attention_layers, {"self[-6:]"}));
  const auto refused = [&](auto change) {
    auto bad = r;
    change(bad);
    EXPECT_THROW(vsp::pipeline::prepare_transfer(manifest, bad), vsp::UsageError);
  };
  refused([](auto& q) { q.tau = 0; });
  refused([](auto& q) { q.gamma = 1.5; });
  refused([](auto& q) { q.start_step = 4; });
  refused([](auto& q) { q.pairs.clear(); });
  EXPECT_THROW(vsp::pipeline::prepare_transfer(manifest,
                                               [&] {
                                                 auto bad = r;
                                                 bad.layers = {"no_such_block"};
                                                 return bad;
                                               }()),
               vsp::Error);
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
