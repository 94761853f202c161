// The denoiser seam: a recording controller pins the step context of every UNet call (step,
// rows, roles, CFG halves, phase) and the end-of-step calls, for generate's and style's layouts,
// on the tiny SDXL and the tiny SD 1.x export; a call watch pins what the transfer and edit
// pipelines run, their inversions and null-text included.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include "vsp/io/image.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/conditioning.hpp"
#include "vsp/pipeline/denoise.hpp"
#include "vsp/pipeline/edit.hpp"
#include "vsp/pipeline/transfer.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace {

using vsp::attention::RowRole;

const std::filesystem::path kData = std::filesystem::path(VSP_TEST_DATA);

// "step 0/2 rows 1+2 target,target halves 2 sampling"
std::string describe(const vsp::attention::StepContext& step) {
  std::ostringstream line;
  line << "step " << step.step_index << "/" << step.num_steps << " rows " << step.first_row << "+" << step.roles.size()
       << " ";
  for (size_t i = 0; i < step.roles.size(); ++i) line << (i ? "," : "") << step.roles[i];
  line << " halves " << step.cfg_halves << (step.phase == vsp::attention::Phase::sampling ? " sampling" : " inversion");
  return line.str();
}

// One line per UNet call ("step 0 rows 1+2 target,target halves 2 sampling") and per end_step.
class CallRecorder : public vsp::attention::AttentionController {
 public:
  at::Tensor attend(const vsp::models::AttentionLayer& layer, const vsp::attention::StepContext& step,
                    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) override {
    // The first layer of each UNet call: layer 0 runs first (the manifest is in execution order).
    if (layer.id == 0) {
      calls.push_back(describe(step));
      // The lone-row rule: one unguided row outside the reference call runs as a batch of two.
      const bool lone = step.roles.size() == 1 && step.cfg_halves == 1 && step.roles[0] != RowRole::reference;
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
  const auto cond = vsp::pipeline::encode_prompts(*model, std::vector<std::string>(rows, "a cat"), 64, 64,
                                                  vsp::text::PromptSyntax::plain);
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
  layout.roles = {RowRole::reference, RowRole::target, RowRole::target, RowRole::target};
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
  const auto cat = vsp::pipeline::encode_prompts(*model, {"a cat"}, 64, 64, vsp::text::PromptSyntax::plain);
  const auto dog = vsp::pipeline::encode_prompts(*model, {"a dog"}, 64, 64, vsp::text::PromptSyntax::plain);
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

// A pipeline's UNet calls as describe() lines, each with " x<batch>" (the rows q carried).
std::vector<std::string> watched(const std::function<void()>& pipeline) {
  vsp::attention::UnetCallWatch watch;
  pipeline();
  std::vector<std::string> lines;
  for (const auto& call : watch.calls) lines.push_back(describe(call.step) + " x" + std::to_string(call.batch));
  return lines;
}

// Random 64x64 pictures written as PNGs into a fresh folder, removed with it.
class Pictures {
 public:
  Pictures() : folder_(std::filesystem::temp_directory_path() / ("vsp_denoiser_test_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(folder_);
  }
  ~Pictures() { std::filesystem::remove_all(folder_); }
  std::filesystem::path make(int seed) {
    torch::manual_seed(seed);
    const auto pixels = torch::randint(0, 256, {64, 64, 3}, torch::kUInt8);
    const auto file = folder_ / (std::to_string(seed) + ".png");
    vsp::io::write_png(
        file,
        {64, 64, 3, std::vector<uint8_t>(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel())});
    return file;
  }

 private:
  std::filesystem::path folder_;
};

TEST_P(Denoiser, TransferInvertsEveryPictureThenRunsThemAheadOfTheStylisedRows) {
  const auto model = load(GetParam());
  Pictures pictures;
  vsp::pipeline::TransferRequest r;
  r.contents = {pictures.make(1)};
  r.styles = {pictures.make(2), pictures.make(3)};
  r.pairs = {{0, 0}, {0, 1}};
  r.width = r.height = 64;
  r.steps = 3;
  r.start_step = 1;
  r.batch_size = 1;
  const auto plan = vsp::pipeline::prepare_transfer(model->manifest, r);
  // The three pictures inverted together; from --start-step on, each sampling step reruns them at
  // their inversion's latent ahead of the stylised rows (recompute), which run one per call.
  const std::vector<std::string> expected = {"step 0/3 rows 0+3 content,style,style halves 1 inversion x3",
                                             "step 1/3 rows 0+3 content,style,style halves 1 inversion x3",
                                             "step 2/3 rows 0+3 content,style,style halves 1 inversion x3",
                                             "step 1/3 rows 0+3 content,style,style halves 1 sampling x3",
                                             "step 1/3 rows 3+1 stylised halves 1 sampling x2",
                                             "step 1/3 rows 4+1 stylised halves 1 sampling x2",
                                             "step 2/3 rows 0+3 content,style,style halves 1 sampling x3",
                                             "step 2/3 rows 3+1 stylised halves 1 sampling x2",
                                             "step 2/3 rows 4+1 stylised halves 1 sampling x2"};
  EXPECT_EQ(watched([&] { vsp::pipeline::style_injection(*model, plan, nullptr); }), expected);
}

TEST_P(Denoiser, EditInvertsThePictureOptimisesNullTextThenRunsSourceAndEdits) {
  const auto model = load(GetParam());
  Pictures pictures;
  vsp::pipeline::EditRequest r;
  r.source = "a red fox";
  r.edits = {"a red cat"};
  r.image = pictures.make(4);
  r.width = r.height = 64;
  r.steps = 2;
  r.null_text_iterations = 1;
  const auto plan = vsp::pipeline::prepare_edit(model->manifest, vsp::models::load_tokenizers(model->manifest), r);
  // The picture inverted alone; null-text per step: the conditional prediction, one Adam iteration,
  // the step with the optimised embedding (each a lone unguided row); then source and edit together.
  const std::vector<std::string> expected = {
      "step 0/2 rows 0+1 image halves 1 inversion x2",      "step 1/2 rows 0+1 image halves 1 inversion x2",
      "step 0/2 rows 0+1 image halves 1 sampling x2",       "step 0/2 rows 0+1 image halves 1 sampling x2",
      "step 0/2 rows 0+1 image halves 1 sampling x2",       "step 1/2 rows 0+1 image halves 1 sampling x2",
      "step 1/2 rows 0+1 image halves 1 sampling x2",       "step 1/2 rows 0+1 image halves 1 sampling x2",
      "step 0/2 rows 0+2 source,edit halves 2 sampling x4", "step 1/2 rows 0+2 source,edit halves 2 sampling x4"};
  EXPECT_EQ(watched([&] { vsp::pipeline::prompt_edit(*model, plan, nullptr); }), expected);
}

INSTANTIATE_TEST_SUITE_P(Families, Denoiser, testing::Values("tiny", "sd1-tiny"), [](const auto& info) {
  return info.param == "tiny" ? std::string("sdxl") : std::string("sd1");
});

}  // namespace
