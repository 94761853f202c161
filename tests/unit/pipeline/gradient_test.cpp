// Gradients through the denoiser: outside InferenceMode, a loss on the guided prediction
// differentiates through the traced UNet and vsp::attention to the unconditional embedding (what
// a null-text optimiser needs), and equals PyTorch autograd on the diffusers UNet
// (tests/python/fixtures_gradients.py), on the tiny SDXL and the tiny SD 1.x export.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vsp/models/model.hpp"
#include "vsp/pipeline/denoiser.hpp"

namespace {

const std::filesystem::path kData = std::filesystem::path(VSP_TEST_DATA);

at::Tensor read_bin(const nlohmann::json& index, const std::string& model, const std::string& name) {
  const std::vector<int64_t> shape = index["shapes"][name];
  auto tensor = torch::empty(shape, torch::kFloat);
  std::ifstream file(kData / "gradients" / model / (name + ".bin"), std::ios::binary);
  file.read(reinterpret_cast<char*>(tensor.data_ptr<float>()), tensor.numel() * sizeof(float));
  EXPECT_TRUE(file.good()) << name << ": run .venv/bin/python tests/python/fixtures_gradients.py " << VSP_TEST_DATA;
  return tensor;
}

class DenoiserGradients : public testing::TestWithParam<std::string> {};

TEST_P(DenoiserGradients, FlowThroughTheTracedUNetAndMatchAutograd) {
  const std::string name = GetParam();
  std::ifstream index_file(kData / "gradients" / name / "index.json");
  ASSERT_TRUE(index_file.good()) << "run .venv/bin/python tests/python/fixtures_gradients.py " << VSP_TEST_DATA;
  const auto index = nlohmann::json::parse(index_file);
  const auto model = vsp::models::Model::load(kData / name);
  const auto read = [&](const std::string& tensor) { return read_bin(index, name, tensor); };

  const auto uncond = read("uncond").requires_grad_(true);
  at::Tensor pooled, time_ids;  // SDXL's added conditioning only
  if (index.contains("time_ids")) {
    pooled = read("pooled");
    const std::vector<float> ids = index["time_ids"];
    time_ids = torch::tensor(ids).view({1, 6});
  }
  vsp::pipeline::RowInputs inputs{{uncond, pooled, time_ids}, {read("cond"), pooled, time_ids}};
  vsp::pipeline::Denoiser denoiser(*model, {}, 1, true, nullptr);
  const double guidance = index["guidance"];
  const auto guided = denoiser.predict(read("sample"), {0, 1, index["timestep"], guidance}, inputs);
  ASSERT_TRUE(guided.requires_grad()) << "the prediction is cut off from the graph";
  (guided * read("weight")).sum().backward();

  const auto expected = read("grad_uncond");
  ASSERT_TRUE(uncond.grad().defined());
  const double scale = expected.abs().max().item<double>();
  ASSERT_GT(scale, 0);
  EXPECT_LE((uncond.grad() - expected).abs().max().item<double>(), 1e-4 * scale);
  EXPECT_LE((guided.detach() - read("guided")).abs().max().item<double>(), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Families, DenoiserGradients, testing::Values("tiny", "sd1-tiny"), [](const auto& info) {
  return info.param == "tiny" ? std::string("sdxl") : std::string("sd1");
});

}  // namespace
