#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "vsp/config/manifest.hpp"
#include "vsp/error.hpp"

namespace {

namespace fs = std::filesystem;
const fs::path kTiny = fs::path(VSP_TEST_DATA) / "tiny";

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const vsp::Error& e) {
    return e.what();
  }
  return "";
}

// A copy of the tiny manifest with one change, in a fresh folder with the tiny model's files.
fs::path edited_model(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  const auto folder = fs::temp_directory_path() / ("vsp-manifest-test-" + name);
  fs::remove_all(folder);
  fs::copy(kTiny, folder, fs::copy_options::recursive);
  std::ifstream in(kTiny / "manifest.json");
  auto json = nlohmann::json::parse(in);
  edit(json);
  std::ofstream(folder / "manifest.json") << json.dump();
  return folder;
}

TEST(Manifest, LoadsTheTinyExport) {
  ASSERT_TRUE(fs::exists(kTiny / "manifest.json")) << "run scripts/test.sh, which exports the tiny model";
  const auto m = vsp::models::Manifest::load(kTiny);
  EXPECT_EQ(m.family, "sdxl");
  EXPECT_EQ(m.attention_layers.size(), 34u);
  EXPECT_EQ(m.size_multiple, 32);
  EXPECT_EQ(m.text_encoders[1].pad_id, 0);
  EXPECT_EQ(m.text_encoders[0].pad_id, 49407);
  EXPECT_EQ(m.hash.size(), 16u);
}

TEST(Manifest, MissingFolderSaysHowToExport) {
  const auto message = error_of([] { vsp::models::Manifest::load("/nonexistent/models/sdxl"); });
  EXPECT_NE(message.find("not found"), std::string::npos);
  EXPECT_NE(message.find("scripts/export.py"), std::string::npos);
}

TEST(Manifest, OtherFormatVersionIsRefused) {
  const auto folder = edited_model("version", [](auto& j) { j["format_version"] = 1; });
  const auto message = error_of([&] { vsp::models::Manifest::load(folder); });
  EXPECT_NE(message.find("format_version 1"), std::string::npos) << message;
}

TEST(Manifest, MissingFieldIsNamed) {
  const auto folder = edited_model("field", [](auto& j) { j.erase("scaling_factor"); });
  const auto message = error_of([&] { vsp::models::Manifest::load(folder); });
  EXPECT_NE(message.find("'scaling_factor'"), std::string::npos) << message;
}

TEST(Manifest, SizeMustBeAMultiple) {
  ASSERT_TRUE(fs::exists(kTiny / "manifest.json"));
  const auto m = vsp::models::Manifest::load(kTiny);
  EXPECT_NO_THROW(m.check_size(96, 64));
  const auto message = error_of([&] { m.check_size(100, 64); });
  EXPECT_NE(message.find("multiples of 32"), std::string::npos) << message;
  EXPECT_NE(message.find("--width 96"), std::string::npos) << message;
}

TEST(Manifest, EveryNumberIsRangeChecked) {
  ASSERT_TRUE(fs::exists(kTiny / "manifest.json"));
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"size_multiple", 0},   {"vae_scale_factor", 0}, {"latent_channels", -1}, {"size_multiple", 1.5},
      {"default_size", 1e12}, {"scaling_factor", "x"}, {"scaling_factor", 0},   {"latent_channels", 4294967300ll},
      {"size_multiple", 12},  // not a multiple of vae_scale_factor (8)
  };
  for (const auto& [field, value] : cases) {
    const auto folder = edited_model("range-" + field, [&, f = field, v = value](auto& j) { j[f] = v; });
    const auto message = error_of([&] { vsp::models::Manifest::load(folder); });
    EXPECT_NE(message.find("manifest.json: field '" + field + "'"), std::string::npos) << field << ": " << message;
    EXPECT_NE(message.find("re-export"), std::string::npos) << message;
  }
  const auto nested = edited_model("range-heads", [](auto& j) { j["attention_layers"][0]["heads"] = 0; });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(nested); }).find("'attention_layers[].heads'"),
            std::string::npos);
  const auto outside = edited_model("range-file", [](auto& j) { j["unet"]["file"] = "../../etc/passwd"; });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(outside); }).find("inside the model folder"), std::string::npos);
}

TEST(Manifest, HugeSizesAreRefusedWithoutOverflow) {
  ASSERT_TRUE(fs::exists(kTiny / "manifest.json"));
  const auto m = vsp::models::Manifest::load(kTiny);
  EXPECT_NE(error_of([&] { m.check_size(2147483647, 64); }).find("--width 8192"), std::string::npos);
  EXPECT_NE(error_of([&] { m.check_size(8224, 64); }).find("8192 pixels a side"), std::string::npos);
  EXPECT_NE(error_of([&] { m.check_steps(1001); }).find("1000 timesteps"), std::string::npos);
  EXPECT_NO_THROW(m.check_steps(1000));
}

TEST(Manifest, UnknownFamiliesAndUNetInputsAreRefused) {
  ASSERT_TRUE(fs::exists(kTiny / "manifest.json"));
  EXPECT_EQ(vsp::models::Manifest::load(kTiny).unet_inputs.size(), 7u);  // SDXL's five and two residual inputs
  EXPECT_EQ(vsp::models::Manifest::load(kTiny).controlnets.size(), 2u);  // the random canny and depth ones
  const auto family = edited_model("family", [](auto& j) { j["family"] = "kandinsky"; });
  const auto message = error_of([&] { vsp::models::Manifest::load(family); });
  EXPECT_NE(message.find("field 'family'"), std::string::npos) << message;
  EXPECT_NE(message.find("kandinsky"), std::string::npos) << message;
  const auto inputs = edited_model("inputs", [](auto& j) {
    j["unet"]["inputs"] = {"sample", "timestep", "controlnet"};
  });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(inputs); }).find("'unet.inputs'"), std::string::npos);
  // SDXL's inputs on a manifest that says the UNet takes no added conditioning.
  const auto added = edited_model("added", [](auto& j) { j["unet"]["added_conditioning"] = false; });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(added); }).find("'unet.inputs'"), std::string::npos);
  // The ControlNets' inputs by name: the export's list, one the runtime cannot feed refused, and an
  // export from before the names (no "inputs") fed in the SDXL order.
  const std::vector<std::string> controlnet_inputs = {"sample",      "timestep", "encoder_hidden_states",
                                                      "text_embeds", "time_ids", "controlnet_cond"};
  EXPECT_EQ(vsp::models::Manifest::load(kTiny).controlnet_inputs, controlnet_inputs);
  const auto control = edited_model("control", [](auto& j) {
    j["controlnets"][0]["inputs"] = {"sample", "timestep", "encoder_hidden_states", "controlnet_cond"};
  });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(control); }).find("'controlnets[].inputs'"), std::string::npos);
  const auto unnamed = edited_model("unnamed", [](auto& j) {
    for (auto& controlnet : j["controlnets"]) controlnet.erase("inputs");
  });
  EXPECT_EQ(vsp::models::Manifest::load(unnamed).controlnet_inputs, controlnet_inputs);
  const auto width = edited_model("width", [](auto& j) { j["unet"]["cross_attention_dim"] = 65; });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(width); }).find("'unet.cross_attention_dim'"),
            std::string::npos);
  const auto state = edited_model("state", [](auto& j) { j["text_encoders"][0]["hidden_state"] = "pooled"; });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(state); }).find("'text_encoders[].hidden_state'"),
            std::string::npos);
}

TEST(Manifest, DepthEstimatorIsReadAndChecked) {
  const auto m = vsp::models::Manifest::load(kTiny);
  ASSERT_TRUE(m.depth_estimator.has_value());
  EXPECT_EQ(m.depth_estimator->height, 64);
  EXPECT_EQ(m.depth_estimator->resample, "bilinear");
  EXPECT_DOUBLE_EQ(m.depth_estimator->std[2], 0.5);
  EXPECT_FALSE(vsp::models::Manifest::load(fs::path(VSP_TEST_DATA) / "sd1-tiny").depth_estimator.has_value());
  const auto resample = edited_model("resample", [](auto& j) { j["depth_estimator"]["resample"] = "lanczos"; });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(resample); }).find("'depth_estimator.resample'"),
            std::string::npos);
  const auto std = edited_model("std", [](auto& j) { j["depth_estimator"]["std"] = {0.5, 0, 0.5}; });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(std); }).find("'depth_estimator.std'"), std::string::npos);
  const auto file = edited_model("depth-file", [](auto& j) { j["depth_estimator"]["file"] = "gone.pt"; });
  EXPECT_NE(error_of([&] { vsp::models::Manifest::load(file); }).find("lacks gone.pt"), std::string::npos);
}

TEST(Manifest, SD1ExportsHaveOneEncoderAndNoAddedConditioning) {
  const auto m = vsp::models::Manifest::load(fs::path(VSP_TEST_DATA) / "sd1-tiny");
  EXPECT_EQ(m.family, "sd1");
  ASSERT_EQ(m.text_encoders.size(), 1u);
  EXPECT_EQ(vsp::models::kHiddenStates[m.text_encoders[0].hidden_state_output], "final");
  EXPECT_FALSE(m.added_conditioning);
  EXPECT_FALSE(m.force_zeros_for_empty_prompt);
  EXPECT_EQ(m.unet_inputs, (std::vector<std::string>{"sample", "timestep", "encoder_hidden_states", "down_residuals",
                                                     "mid_residual"}));
  EXPECT_EQ(m.down_residuals.size(), 12u);  // conv_in, then 4 levels of 2 layers and 3 downsamplers
  EXPECT_TRUE(m.controlnets.empty());
  EXPECT_EQ(m.default_size, 64);
}

}  // namespace
