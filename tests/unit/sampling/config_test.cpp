// ScheduleConfig::from_json, make_scheduler's names and errors, and the samplers' own invariants.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "vsp/error.hpp"
#include "vsp/sampling/ddim_inversion.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling {
namespace {

// stabilityai/stable-diffusion-xl-base-1.0's scheduler/scheduler_config.json.
const char* const kSdxlConfig = R"({
  "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0",
  "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": false,
  "interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
  "sample_max_value": 1.0, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1,
  "timestep_spacing": "leading", "trained_betas": null, "use_karras_sigmas": false})";

std::string error_message(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no vsp::Error)";
}

TEST(ScheduleConfig, ParsesTheSdxlConfig) {
  const auto config = ScheduleConfig::from_json(nlohmann::json::parse(kSdxlConfig));
  EXPECT_EQ(config.num_train_timesteps, 1000);
  EXPECT_DOUBLE_EQ(config.beta_start, 0.00085);
  EXPECT_DOUBLE_EQ(config.beta_end, 0.012);
  EXPECT_EQ(config.beta_schedule, "scaled_linear");
  EXPECT_EQ(config.timestep_spacing, "leading");
  EXPECT_EQ(config.steps_offset, 1);
  EXPECT_EQ(config.prediction_type, "epsilon");
  EXPECT_FALSE(config.set_alpha_to_one);
  EXPECT_FALSE(config.clip_sample);
}

TEST(ScheduleConfig, MissingKeysTakeDiffusersDefaults) {
  const auto config =
      ScheduleConfig::from_json({{"timestep_spacing", "trailing"}, {"prediction_type", "v_prediction"}});
  EXPECT_DOUBLE_EQ(config.beta_start, 0.0001);
  EXPECT_DOUBLE_EQ(config.beta_end, 0.02);
  EXPECT_EQ(config.beta_schedule, "linear");
  EXPECT_EQ(config.steps_offset, 0);
  EXPECT_EQ(config.prediction_type, "v_prediction");
  EXPECT_EQ(config.timestep_spacing, "trailing");
  EXPECT_TRUE(config.set_alpha_to_one);
  EXPECT_TRUE(config.clip_sample);
}

TEST(ScheduleConfig, RefusesWhatItCannotReproduce) {
  auto with = [](const char* key, nlohmann::json value) {
    auto json = nlohmann::json::parse(kSdxlConfig);
    json[key] = std::move(value);
    return error_message([&] { ScheduleConfig::from_json(json); });
  };
  EXPECT_NE(with("use_exponential_sigmas", true).find("use_exponential_sigmas"), std::string::npos);
  EXPECT_NE(with("interpolation_type", "log_linear").find("interpolation_type"), std::string::npos);
  EXPECT_NE(with("trained_betas", {0.1, 0.2}).find("trained_betas"), std::string::npos);
  EXPECT_NE(with("prediction_type", "sample")
                .find("field 'prediction_type' must be one of epsilon, v_prediction, got \"sample\""),
            std::string::npos);
  EXPECT_NE(with("beta_schedule", "squaredcos_cap_v2").find("beta_schedule"), std::string::npos);
  EXPECT_NE(with("timestep_spacing", "even").find("leading, trailing, linspace"), std::string::npos);
  EXPECT_NE(with("steps_offset", "one").find("field 'steps_offset' must be an integer"), std::string::npos);
  auto no_spacing = nlohmann::json::parse(kSdxlConfig);
  no_spacing.erase("timestep_spacing");
  EXPECT_NE(error_message([&] { ScheduleConfig::from_json(no_spacing); }).find("timestep_spacing"), std::string::npos);
  EXPECT_THROW(ScheduleConfig::from_json(nlohmann::json::array()), Error);
}

TEST(ScheduleConfig, ReadsKarrasSigmas) {
  auto json = nlohmann::json::parse(kSdxlConfig);
  EXPECT_FALSE(ScheduleConfig::from_json(json).karras_sigmas);
  json["use_karras_sigmas"] = true;
  EXPECT_TRUE(ScheduleConfig::from_json(json).karras_sigmas);
}

TEST(MakeScheduler, KnowsTheSamplers) {
  EXPECT_EQ(scheduler_names(),
            (std::vector<std::string>{"euler", "ddim", "dpmpp2m", "euler-karras", "dpmpp2m-karras", "euler-a", "lcm"}));
  for (const auto& name : scheduler_names()) EXPECT_EQ(make_scheduler(name, ScheduleConfig())->name(), name);
}

TEST(MakeScheduler, UnknownNameListsTheValidOnes) {
  EXPECT_EQ(error_message([] { make_scheduler("heun", ScheduleConfig()); }),
            "unknown sampler 'heun'; choose one of: euler, ddim, dpmpp2m, euler-karras, dpmpp2m-karras, euler-a, lcm");
}

TEST(Lcm, TimestepsAreEvenIndicesIntoTheDistillationGrid) {
  auto scheduler = make_scheduler("lcm", ScheduleConfig());
  scheduler->set_timesteps(4);  // indices floor(50 i / 4) = 0, 12, 25, 37 of 999, 979, ..., 19
  EXPECT_EQ(scheduler->timesteps(), (std::vector<double>{999, 759, 499, 259}));
  EXPECT_EQ(scheduler->sigmas().size(), 5u);
  EXPECT_EQ(scheduler->sigmas().back(), 0.0);
  EXPECT_THROW(scheduler->set_timesteps(51), vsp::UsageError);
}

TEST(DpmppTwoM, RestartedRowsTakeTheFirstStepOfARunBegunThere) {
  const auto sample = torch::randn({2, 4, 2, 2}, torch::TensorOptions().dtype(torch::kFloat));
  const auto first_output = torch::randn({2, 4, 2, 2}), second_output = torch::randn({2, 4, 2, 2});
  auto running = make_scheduler("dpmpp2m", ScheduleConfig());
  running->set_timesteps(10);
  const auto after_first = running->step(first_output, 0, sample).prev_sample;
  running->restart_rows(torch::tensor({false, true}));
  const auto second = running->step(second_output, 1, after_first).prev_sample;

  auto fresh = make_scheduler("dpmpp2m", ScheduleConfig());
  fresh->set_timesteps(10);
  const auto begun = fresh->step(second_output, 1, after_first).prev_sample;
  EXPECT_TRUE(torch::allclose(second[1], begun[1], 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(second[0], begun[0], 1e-3, 1e-3));  // row 0 keeps its history: second order
}

TEST(DpmppTwoM, StepsMustRunInOrder) {
  auto scheduler = make_scheduler("dpmpp2m", ScheduleConfig());
  scheduler->set_timesteps(10);
  const auto x = torch::zeros({1, 4, 2, 2});
  scheduler->step(x, 0, x);
  EXPECT_THROW(scheduler->step(x, 2, x), std::logic_error);
  scheduler->set_timesteps(10);  // a new run starts with an empty history, at any step (img2img)
  EXPECT_NO_THROW(scheduler->step(x, 4, x));
  EXPECT_NO_THROW(scheduler->step(x, 5, x));
  EXPECT_THROW(scheduler->step(x, 5, x), std::logic_error);
}

// With an eps that does not depend on the latent, DDIM sampling over the same timesteps undoes
// the inversion exactly (up to rounding): both use the same x0 at each step.
TEST(DdimInversion, DdimSamplingRetracesItWithTheSameNoisePrediction) {
  const ScheduleConfig config;
  const int steps = 20;
  DdimInversion inversion(config);
  inversion.set_timesteps(steps);
  auto sampler = make_scheduler("ddim", config);
  sampler->set_timesteps(steps);
  ASSERT_EQ(std::vector<double>(inversion.timesteps().rbegin(), inversion.timesteps().rend()), sampler->timesteps());

  auto generator = at::detail::createCPUGenerator(7);
  const auto clean = torch::randn({1, 4, 8, 8}, generator);
  std::vector<at::Tensor> eps;
  for (int i = 0; i < steps; ++i) eps.push_back(torch::randn({1, 4, 8, 8}, generator));

  auto latent = clean;
  for (int i = 0; i < steps; ++i) latent = inversion.step(eps[i], i, latent).prev_sample;
  for (int i = 0; i < steps; ++i) latent = sampler->step(eps[steps - 1 - i], i, latent).prev_sample;
  EXPECT_LT((latent - clean).abs().max().item<double>(), 1e-4);
}

// The official StyleID form (ldm's encode_ddim): step i moves the UNet's input from its own
// timestep's noise level to the next timestep's, the last to T - 1. With a constant eps, a latent on
// the line sqrt(a) x0 + sqrt(1 - a) eps at the first timestep stays on it: at the end a = alphabar_999.
TEST(DdimInversion, OwnLevelFormEndsAtTheLastTrainingTimestep) {
  const ScheduleConfig config;
  const int steps = 10;
  DdimInversion inversion(config, InversionForm::own_level);
  inversion.set_timesteps(steps);
  const auto betas = torch::linspace(std::sqrt(config.beta_start), std::sqrt(config.beta_end),
                                     config.num_train_timesteps, torch::kFloat64)
                         .pow(2);
  const auto alphas_cumprod = (1 - betas).cumprod(0);
  const auto on_line = [&](const at::Tensor& x0, const at::Tensor& eps, int64_t t) {
    return alphas_cumprod[t].sqrt() * x0 + (1 - alphas_cumprod[t]).sqrt() * eps;
  };
  auto generator = at::detail::createCPUGenerator(3);
  const auto x0 = torch::randn({1, 4, 8, 8}, generator).to(torch::kFloat64);
  const auto eps = torch::randn({1, 4, 8, 8}, generator).to(torch::kFloat64);
  const auto first = static_cast<int64_t>(inversion.timesteps().front());
  auto latent = on_line(x0, eps, first).to(torch::kFloat);
  for (int i = 0; i < steps; ++i) {
    const auto out = inversion.step(eps.to(torch::kFloat), i, latent);
    EXPECT_LT((out.pred_original_sample - x0).abs().max().item<double>(), 1e-4) << "step " << i;
    latent = out.prev_sample;
    const auto next = i + 1 < steps ? static_cast<int64_t>(inversion.timesteps()[i + 1]) : 999;
    EXPECT_LT((latent - on_line(x0, eps, next)).abs().max().item<double>(), 1e-4) << "step " << i;
  }
}

}  // namespace
}  // namespace vsp::sampling
