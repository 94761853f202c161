// The vsp::attention op inside the traced tiny UNet: one call per manifest layer, plain SDPA by
// default, and a controller registered in C++ that changes the output.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "vsp/attention/controller.hpp"
#include "vsp/models/model.hpp"

namespace {

const std::filesystem::path kTiny = std::filesystem::path(VSP_TEST_DATA) / "tiny";

std::shared_ptr<vsp::models::Model> load_tiny() {
  if (!std::filesystem::exists(kTiny / "manifest.json"))
    throw std::runtime_error(kTiny.string() + " is missing: run scripts/test.sh, which exports it");
  return vsp::models::Model::load(kTiny);
}

at::Tensor run_unet(vsp::models::Model& model) {
  torch::manual_seed(0);
  const vsp::models::UNetInputs inputs{torch::randn({2, 4, 8, 8}), torch::tensor(500.0f), torch::randn({2, 77, 64}),
                                       torch::randn({2, 32}),
                                       torch::tensor({64.f, 64.f, 0.f, 0.f, 64.f, 64.f}).repeat({2, 1})};
  torch::InferenceMode guard;
  return model.unet.forward(model.unet_arguments(inputs)).toTensor();
}

// Records what it sees; optionally scales the output of self-attention layers.
class RecordingController : public vsp::attention::AttentionController {
 public:
  explicit RecordingController(double self_scale) : self_scale_(self_scale) {}
  at::Tensor attend(const vsp::models::AttentionLayer& layer, const vsp::attention::StepContext& step,
                    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) override {
    seen.insert(layer.id);
    if (layer.self) self_layers.insert(layer.id);
    EXPECT_EQ(q.size(1), layer.heads);
    EXPECT_EQ(q.size(3), layer.head_dim);
    EXPECT_EQ(k.size(2), layer.self ? q.size(2) : 77);
    last_step = step.step_index;
    auto out = vsp::attention::sdpa(q, k, v);
    return layer.self ? out * self_scale_ : out;
  }
  std::set<int> seen, self_layers;
  int last_step = -2;

 private:
  double self_scale_;
};

TEST(AttentionOp, CalledOncePerManifestLayer) {
  auto model = load_tiny();
  const auto before = vsp::attention::attention_call_count();
  run_unet(*model);
  EXPECT_EQ(vsp::attention::attention_call_count() - before,
            static_cast<long long>(model->manifest.attention_layers.size()));
}

TEST(AttentionOp, IdentityControllerKeepsTheOutputAndSeesEveryLayer) {
  auto model = load_tiny();
  const auto plain = run_unet(*model);
  RecordingController identity(1.0);
  vsp::attention::ActiveScope scope(model->manifest.attention_layers, &identity);
  vsp::attention::StepContext step;
  step.step_index = 3;
  step.num_steps = 10;
  step.timestep = 700.0;
  step.cfg_halves = 2;
  scope.set_step(step);
  const auto controlled = run_unet(*model);
  EXPECT_TRUE(torch::equal(plain, controlled));
  EXPECT_EQ(identity.seen.size(), model->manifest.attention_layers.size());
  EXPECT_EQ(identity.self_layers.size(), 17u);
  EXPECT_EQ(identity.last_step, 3);
}

TEST(AttentionOp, ControllerChangesTheOutput) {
  auto model = load_tiny();
  const auto plain = run_unet(*model);
  RecordingController zero_self(0.0);
  at::Tensor controlled;
  {
    vsp::attention::ActiveScope scope(model->manifest.attention_layers, &zero_self);
    controlled = run_unet(*model);
  }
  EXPECT_GT((plain - controlled).abs().max().item<double>(), 1e-3);
  // Out of scope, the default SDPA is back.
  EXPECT_TRUE(torch::equal(plain, run_unet(*model)));
}

TEST(AttentionOp, ScopesNestAndRestoreTheOuterController) {
  auto model = load_tiny();
  const auto plain = run_unet(*model);
  RecordingController zero_self(0.0);
  vsp::attention::ActiveScope outer(model->manifest.attention_layers, &zero_self);
  const auto controlled = run_unet(*model);
  {
    vsp::attention::ActiveScope inner(model->manifest.attention_layers, nullptr);
    EXPECT_TRUE(torch::equal(plain, run_unet(*model)));
  }
  EXPECT_TRUE(torch::equal(controlled, run_unet(*model)));
}

}  // namespace
