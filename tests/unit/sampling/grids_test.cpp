// Timesteps, sigmas and init_noise_sigma for many step counts and all spacings, against diffusers.
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "vsp/error.hpp"
#include "vsp/sampling/ddim_inversion.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling {
namespace {

using testing::kTolerance;
using testing::relative_error;

TEST(SamplerGrids, MatchDiffusersForAllStepCountsAndSpacings) {
  const auto fixture = testing::load_json(testing::fixture_dir() / "grids.json");
  if (fixture.is_null()) return;
  int checked = 0;
  for (const auto& [sampler, spacings] : fixture.at("grids").items()) {
    for (const auto& [spacing, by_steps] : spacings.items()) {
      auto json_config = fixture.at("config");
      json_config["timestep_spacing"] = spacing;
      const auto config = ScheduleConfig::from_json(json_config);
      for (const auto& [steps_text, expected] : by_steps.items()) {
        SCOPED_TRACE(sampler + " " + spacing + " " + steps_text + " steps");
        const int steps = std::stoi(steps_text);
        const auto expected_timesteps = expected.at("timesteps").get<std::vector<double>>();
        if (sampler == "ddim_inversion") {
          DdimInversion inversion(config);
          inversion.set_timesteps(steps);
          EXPECT_EQ(inversion.timesteps(), expected_timesteps);
        } else {
          auto scheduler = make_scheduler(sampler, config);
          scheduler->set_timesteps(steps);
          EXPECT_EQ(scheduler->timesteps(), expected_timesteps);
          EXPECT_LE(relative_error(scheduler->sigmas(), expected.at("sigmas").get<std::vector<double>>()), kTolerance);
          const double init = expected.at("init_noise_sigma");
          EXPECT_NEAR(scheduler->init_noise_sigma(), init, kTolerance * init);
        }
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 600);
}

TEST(SamplerGrids, DdimRefusesTimestepsPastTheTrainingSchedule) {
  const auto config = ScheduleConfig();  // leading spacing, steps_offset 1: 1000 steps reach t = 1000
  EXPECT_THROW(make_scheduler("ddim", config)->set_timesteps(1000), Error);
  EXPECT_THROW(DdimInversion(config).set_timesteps(1000), Error);
  EXPECT_NO_THROW(make_scheduler("euler", config)->set_timesteps(1000));
}

TEST(SamplerGrids, RefusesStepCountsOutsideTheTrainingSchedule) {
  for (const auto& name : scheduler_names()) {
    EXPECT_THROW(make_scheduler(name, ScheduleConfig())->set_timesteps(0), Error) << name;
    EXPECT_THROW(make_scheduler(name, ScheduleConfig())->set_timesteps(1001), Error) << name;
  }
}

}  // namespace
}  // namespace vsp::sampling
