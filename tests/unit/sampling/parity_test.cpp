// Each sampler against a seeded diffusers run (tests/python/fixtures_sampling.py): schedule, input
// scaling, every step's prev_sample and x0, and add_noise at every step, within 1e-6 relative.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fixture.hpp"
#include "vsp/sampling/ddim_inversion.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling {
namespace {

using testing::kTolerance;
using testing::relative_error;

struct Case {
  std::filesystem::path folder;
  nlohmann::json index;
  at::Tensor tensor(const char* name) const { return testing::load_tensor(folder, index.at("tensors").at(name)); }
};

class SamplerParity : public ::testing::TestWithParam<std::string> {
 protected:
  bool load(Case& loaded) {
    loaded.folder = testing::fixture_dir() / "cases" / GetParam();
    loaded.index = testing::load_json(loaded.folder / "index.json");
    return !loaded.index.is_null();
  }
};

TEST_P(SamplerParity, MatchesDiffusers) {
  Case ref;
  if (!load(ref)) return;
  const auto config = ScheduleConfig::from_json(ref.index.at("config"));
  const int steps = ref.index.at("steps");
  auto scheduler = make_scheduler(ref.index.at("sampler"), config);
  scheduler->set_timesteps(steps);
  EXPECT_EQ(scheduler->timesteps(), ref.index.at("timesteps").get<std::vector<double>>());
  EXPECT_LE(relative_error(scheduler->sigmas(), ref.index.at("sigmas").get<std::vector<double>>()), kTolerance);
  EXPECT_NEAR(scheduler->init_noise_sigma(), ref.index.at("init_noise_sigma").get<double>(),
              kTolerance * ref.index.at("init_noise_sigma").get<double>());

  const auto model_outputs = ref.tensor("model_outputs"), scaled = ref.tensor("scaled_inputs");
  const auto prev_samples = ref.tensor("prev_samples"), originals = ref.tensor("pred_original_samples");
  // The run chains vsp's own outputs, as a denoising loop does.
  auto sample = ref.tensor("initial_sample");
  for (int i = 0; i < steps; ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    EXPECT_LE(relative_error(scheduler->scale_model_input(sample, i), scaled[i]), kTolerance);
    const auto out = scheduler->step(model_outputs[i], i, sample);
    EXPECT_LE(relative_error(out.prev_sample, prev_samples[i]), kTolerance);
    EXPECT_LE(relative_error(out.pred_original_sample, originals[i]), kTolerance);
    sample = out.prev_sample;
  }

  const auto clean = ref.tensor("clean"), noise = ref.tensor("noise"), noised = ref.tensor("noised");
  for (int i = 0; i < steps; ++i)
    EXPECT_LE(relative_error(scheduler->add_noise(clean, noise, i), noised[i]), kTolerance) << "add_noise step " << i;
}

// The sampler cases written by fixtures_sampling.py (listed here too, so a missing one fails).
INSTANTIATE_TEST_SUITE_P(Cases, SamplerParity,
                         ::testing::Values("euler_4", "euler_25", "euler_50", "euler_v_prediction_25",
                                           "euler_trailing_25", "euler_linspace_25", "ddim_4", "ddim_25", "ddim_50",
                                           "ddim_v_prediction_25", "ddim_trailing_25", "ddim_linspace_25",
                                           "ddim_alpha_one_25", "ddim_clip_25", "dpmpp2m_4", "dpmpp2m_25", "dpmpp2m_50",
                                           "dpmpp2m_v_prediction_25", "dpmpp2m_trailing_25", "dpmpp2m_linspace_25"),
                         [](const auto& info) { return info.param; });

class InversionParity : public SamplerParity {};

// Against diffusers' DDIMInverseScheduler.
TEST_P(InversionParity, MatchesDiffusers) {
  Case ref;
  if (!load(ref)) return;
  DdimInversion inversion(ScheduleConfig::from_json(ref.index.at("config")));
  const int steps = ref.index.at("steps");
  inversion.set_timesteps(steps);
  EXPECT_EQ(inversion.timesteps(), ref.index.at("timesteps").get<std::vector<double>>());

  const auto model_outputs = ref.tensor("model_outputs");
  const auto prev_samples = ref.tensor("prev_samples"), originals = ref.tensor("pred_original_samples");
  auto sample = ref.tensor("initial_sample");
  for (int i = 0; i < steps; ++i) {
    SCOPED_TRACE("step " + std::to_string(i));
    const auto out = inversion.step(model_outputs[i], i, sample);
    EXPECT_LE(relative_error(out.prev_sample, prev_samples[i]), kTolerance);
    EXPECT_LE(relative_error(out.pred_original_sample, originals[i]), kTolerance);
    sample = out.prev_sample;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, InversionParity,
                         ::testing::Values("ddim_inversion_4", "ddim_inversion_25", "ddim_inversion_50",
                                           "ddim_inversion_v_prediction_25", "ddim_inversion_trailing_25",
                                           "ddim_inversion_alpha_one_25"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vsp::sampling
