// The denoiser seam: a recording controller pins the step context of every UNet call (step,
// rows, roles, CFG halves, phase) and the end-of-step calls, for generate's and style's layouts,
// on the tiny SDXL and the tiny SD 1.x export.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "vsp/models/model.hpp"
#include "vsp/pipeline/conditioning.hpp"
#include "vsp/pipeline/denoise.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace {

const std::filesystem::path kData = std::filesystem::path(VSP_TEST_DATA);

// One line per UNet call ("step 0 rows 1+2 target,target halves 2 sampling") and per end_step.
class CallRecorder : public vsp::attention::AttentionController {
 public:
  at::Tensor attend(const vsp::models::AttentionLayer& layer, const vsp::attention::StepContext& step,
                    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) override {
    // The first layer of each UNet call: layer 0 runs first (the manifest is in execution order).
    if (layer.id == 0) {
      std::ostringstream line;
      line << "step " << step.step_index << "/" << step.num_steps << " rows " << step.first_row << "+"
           << step.roles.size() << " ";
      for (size_t i = 0; i < step.roles.size(); ++i) line << (i ? "," : "") << step.roles[i];
      line << " halves " << step.cfg_halves
           << (step.phase == vsp::attention::Phase::sampling ? " sampling" : " inversion");
      calls.push_back(line.str());
      // The lone-row rule: one unguided row outside the reference call runs as a batch of two.
      const bool lone = step.roles.size() == 1 && step.cfg_halves == 1 && step.roles[0] != "reference";
      const int64_t rows = lone ? 2 : step.cfg_halves * static_cast<int64_t>(step.roles.size());
      EXPECT_EQ(q.size(0), rows) << calls.back();
    }
    return vsp::attention::sdpa(q, k, v);
  }
  void end_step(const vsp::attention::StepContext& step) override {
    calls.push_back("end " + std::to_string(step.step_index));
  }
  std::vector<std::string> calls;
};

std::shared_ptr<vsp::models::Model> load(const std::string& name) {
  static std::map<std::string, std::shared_ptr<vsp::models::Model>> models;
  auto& model = models[name];
  if (!model) model = vsp::models::Model::load(kData / name);
  return model;
}

// The export under test: "tiny" (SDXL) or "sd1-tiny".
class Denoiser : public testing::TestWithParam<std::string> {};

std::vector<std::string> run(const std::string& name, const vsp::pipeline::BranchLayout& layout, int64_t rows,
                             double guidance) {
  const auto model = load(name);
  torch::InferenceMode guard;
  auto scheduler =
      vsp::sampling::make_scheduler("euler", vsp::sampling::ScheduleConfig::from_json(model->manifest.scheduler));
  scheduler->set_timesteps(2);
  const auto cond = vsp::pipeline::encode_prompts(*model, std::vector<std::string>(rows, "a cat"), 64, 64);
  const auto uncond = vsp::pipeline::zero_conditioning(*model, rows, 64, 64);
  CallRecorder recorder;
  vsp::pipeline::DenoiseOptions options;
  options.guidance = guidance;
  options.layout = layout;
  options.controller = &recorder;
  vsp::pipeline::denoise(*model, *scheduler, torch::randn({rows, 4, 8, 8}), uncond, cond, options);
  return recorder.calls;
}

TEST_P(Denoiser, GenerateChunksRowsAndGuidesEveryCall) {
  vsp::pipeline::BranchLayout layout;
  layout.batch_size = 2;
  const std::vector<std::string> expected = {
      "step 0/2 rows 0+2 image,image halves 2 sampling", "step 0/2 rows 2+1 image halves 2 sampling", "end 0",
      "step 1/2 rows 0+2 image,image halves 2 sampling", "step 1/2 rows 2+1 image halves 2 sampling", "end 1"};
  EXPECT_EQ(run(GetParam(), layout, 3, 5.0), expected);
}

TEST_P(Denoiser, UnguidedRunsCarryTheConditionalRowsAlone) {
  vsp::pipeline::BranchLayout layout;
  layout.batch_size = 1;
  const std::vector<std::string> expected = {
      "step 0/2 rows 0+1 image halves 1 sampling", "step 0/2 rows 1+1 image halves 1 sampling", "end 0",
      "step 1/2 rows 0+1 image halves 1 sampling", "step 1/2 rows 1+1 image halves 1 sampling", "end 1"};
  EXPECT_EQ(run(GetParam(), layout, 2, 1.0), expected);
}

TEST_P(Denoiser, StyleRunsTheReferenceFirstThenTargetChunksWithTheirRoles) {
  vsp::pipeline::BranchLayout layout;
  layout.reference_rows = 1;
  layout.batch_size = 2;
  layout.roles = {"reference", "target", "target", "target"};
  const std::vector<std::string> expected = {
      "step 0/2 rows 0+1 reference halves 2 sampling", "step 0/2 rows 1+2 target,target halves 2 sampling",
      "step 0/2 rows 3+1 target halves 2 sampling",    "end 0",
      "step 1/2 rows 0+1 reference halves 2 sampling", "step 1/2 rows 1+2 target,target halves 2 sampling",
      "step 1/2 rows 3+1 target halves 2 sampling",    "end 1"};
  EXPECT_EQ(run(GetParam(), layout, 4, 7.0), expected);
}

// A step hook may replace the rows' conditioning for the steps that follow.
TEST_P(Denoiser, StepHooksReplaceTheConditioningOfLaterSteps) {
  const auto model = load(GetParam());
  torch::InferenceMode guard;
  const auto cat = vsp::pipeline::encode_prompts(*model, {"a cat"}, 64, 64);
  const auto dog = vsp::pipeline::encode_prompts(*model, {"a dog"}, 64, 64);
  const auto uncond = vsp::pipeline::zero_conditioning(*model, 1, 64, 64);
  const auto noise = torch::randn({1, 4, 8, 8});
  const auto final_latents = [&](const vsp::pipeline::Conditioning& from_step_2) {
    auto scheduler =
        vsp::sampling::make_scheduler("euler", vsp::sampling::ScheduleConfig::from_json(model->manifest.scheduler));
    scheduler->set_timesteps(4);
    vsp::pipeline::DenoiseOptions options;
    options.before_unet = [&](int step, at::Tensor&, vsp::pipeline::RowInputs& inputs) {
      if (step == 2) inputs.cond = from_step_2;
    };
    return vsp::pipeline::denoise(*model, *scheduler, noise.clone(), uncond, cat, options);
  };
  const auto unchanged = final_latents(cat);
  EXPECT_TRUE(torch::equal(unchanged, final_latents(cat)));
  EXPECT_FALSE(torch::equal(unchanged, final_latents(dog)));
}

INSTANTIATE_TEST_SUITE_P(Families, Denoiser, testing::Values("tiny", "sd1-tiny"), [](const auto& info) {
  return info.param == "tiny" ? std::string("sdxl") : std::string("sd1");
});

}  // namespace
