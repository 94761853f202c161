#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "vsp/config/json_fields.hpp"
#include "vsp/error.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling {
namespace {

const char* const kFix = "; fix the model's scheduler config (manifest.json \"scheduler\") or re-export it";

// Options whose other values would change the results; only the value implemented here is accepted.
const std::vector<std::pair<const char*, nlohmann::json>>& fixed_options() {
  static const std::vector<std::pair<const char*, nlohmann::json>> options = {{"trained_betas", nullptr},
                                                                              {"use_exponential_sigmas", false},
                                                                              {"use_beta_sigmas", false},
                                                                              {"use_lu_lambdas", false},
                                                                              {"use_flow_sigmas", false},
                                                                              {"thresholding", false},
                                                                              {"rescale_betas_zero_snr", false},
                                                                              {"interpolation_type", "linear"},
                                                                              {"timestep_type", "discrete"},
                                                                              {"final_sigmas_type", "zero"},
                                                                              {"clip_sample_range", 1.0},
                                                                              {"algorithm_type", "dpmsolver++"},
                                                                              {"solver_order", 2},
                                                                              {"solver_type", "midpoint"},
                                                                              {"lower_order_final", true},
                                                                              {"euler_at_final", false},
                                                                              {"variance_type", nullptr}};
  return options;
}

}  // namespace

ScheduleConfig ScheduleConfig::from_json(const nlohmann::json& config) {
  if (!config.is_object()) throw Error(std::string("scheduler config is not a JSON object") + kFix);
  // diffusers writes null for "the default": such fields count as not given.
  nlohmann::json given = config;
  for (auto item = config.begin(); item != config.end(); ++item)
    if (item->is_null()) given.erase(item.key());
  for (const auto& [key, expected] : fixed_options()) {
    if (given.contains(key) && given.at(key) != expected)
      throw Error(std::string("scheduler config: ") + key + "=" + given.at(key).dump() +
                  " is not implemented by vsp (it needs " + expected.dump() + ")" + kFix);
  }
  const JsonFields fields(given, "scheduler config", kFix);
  if (!fields.has("timestep_spacing"))
    throw Error(std::string("scheduler config has no timestep_spacing (its default differs between samplers)") + kFix);

  // The defaults are diffusers' constructor defaults, shared by the Euler, DDIM and DPM-Solver classes.
  ScheduleConfig parsed;
  parsed.num_train_timesteps = static_cast<int>(fields.integer_or("num_train_timesteps", 1000, 2, 100000));
  parsed.beta_start = fields.number_or("beta_start", 0.0001, 0, 1);
  parsed.beta_end = fields.number_or("beta_end", 0.02, 0, 1);
  parsed.beta_schedule = fields.choice_or("beta_schedule", "linear", {"linear", "scaled_linear"});
  parsed.timestep_spacing = fields.choice_or("timestep_spacing", "", {"leading", "trailing", "linspace"});
  parsed.steps_offset = static_cast<int>(fields.integer_or("steps_offset", 0, 0, 100000));
  parsed.prediction_type = fields.choice_or("prediction_type", "epsilon", {"epsilon", "v_prediction"});
  parsed.set_alpha_to_one = fields.flag_or("set_alpha_to_one", true);
  parsed.clip_sample = fields.flag_or("clip_sample", true);
  parsed.karras_sigmas = fields.flag_or("use_karras_sigmas", false);
  // betas are probabilities; outside (0, 1) the schedule's square roots and logs are NaN.
  if (!(parsed.beta_start > 0 && parsed.beta_start < 1 && parsed.beta_end > 0 && parsed.beta_end < 1))
    throw Error("scheduler config: beta_start and beta_end must lie between 0 and 1" + std::string(kFix));
  if (parsed.steps_offset < 0 || parsed.steps_offset >= parsed.num_train_timesteps)
    throw Error("scheduler config: steps_offset must be from 0 to num_train_timesteps - 1" + std::string(kFix));
  return parsed;
}

}  // namespace vsp::sampling
