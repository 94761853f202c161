#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::sampling {
namespace {

const char* const kFix = "; fix the model's scheduler config (manifest.json \"scheduler\") or re-export it";

template <typename T>
T read(const nlohmann::json& config, const char* key, T fallback) {
  if (!config.contains(key) || config.at(key).is_null()) return fallback;
  try {
    return config.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(std::string("scheduler config: '") + key + "' has the wrong type (" + config.at(key).dump() + ")" +
                kFix);
  }
}

std::string read_choice(const nlohmann::json& config, const char* key, std::string fallback,
                        const std::vector<std::string>& choices) {
  auto value = read<std::string>(config, key, std::move(fallback));
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    const std::string list = join(choices);
    throw Error(std::string("scheduler config: ") + key + " '" + value + "' is not supported (use one of: " + list +
                ")" + kFix);
  }
  return value;
}

// Options whose other values would change the results; only the value implemented here is accepted
// (null counts as unset).
const std::vector<std::pair<const char*, nlohmann::json>>& fixed_options() {
  static const std::vector<std::pair<const char*, nlohmann::json>> options = {
      {"trained_betas", nullptr},        {"use_karras_sigmas", false},
      {"use_exponential_sigmas", false}, {"use_beta_sigmas", false},
      {"use_lu_lambdas", false},         {"use_flow_sigmas", false},
      {"thresholding", false},           {"rescale_betas_zero_snr", false},
      {"interpolation_type", "linear"},  {"timestep_type", "discrete"},
      {"final_sigmas_type", "zero"},     {"clip_sample_range", 1.0},
      {"algorithm_type", "dpmsolver++"}, {"solver_order", 2},
      {"solver_type", "midpoint"},       {"lower_order_final", true},
      {"euler_at_final", false},         {"variance_type", nullptr}};
  return options;
}

}  // namespace

ScheduleConfig ScheduleConfig::from_json(const nlohmann::json& config) {
  if (!config.is_object()) throw Error(std::string("scheduler config is not a JSON object") + kFix);
  for (const auto& [key, expected] : fixed_options()) {
    if (config.contains(key) && !config.at(key).is_null() && config.at(key) != expected)
      throw Error(std::string("scheduler config: ") + key + "=" + config.at(key).dump() +
                  " is not implemented by vsp (it needs " + expected.dump() + ")" + kFix);
  }
  if (!config.contains("timestep_spacing"))
    throw Error(std::string("scheduler config has no timestep_spacing (its default differs between samplers)") + kFix);

  // The defaults are diffusers' constructor defaults, shared by the Euler, DDIM and DPM-Solver classes.
  ScheduleConfig parsed;
  parsed.num_train_timesteps = read(config, "num_train_timesteps", 1000);
  parsed.beta_start = read(config, "beta_start", 0.0001);
  parsed.beta_end = read(config, "beta_end", 0.02);
  parsed.beta_schedule = read_choice(config, "beta_schedule", "linear", {"linear", "scaled_linear"});
  parsed.timestep_spacing = read_choice(config, "timestep_spacing", "", {"leading", "trailing", "linspace"});
  parsed.steps_offset = read(config, "steps_offset", 0);
  parsed.prediction_type = read_choice(config, "prediction_type", "epsilon", {"epsilon", "v_prediction"});
  parsed.set_alpha_to_one = read(config, "set_alpha_to_one", true);
  parsed.clip_sample = read(config, "clip_sample", true);
  if (parsed.num_train_timesteps < 2 || parsed.num_train_timesteps > 100000)
    throw Error("scheduler config: num_train_timesteps must be from 2 to 100000" + std::string(kFix));
  // betas are probabilities; outside (0, 1) the schedule's square roots and logs are NaN.
  if (!(parsed.beta_start > 0 && parsed.beta_start < 1 && parsed.beta_end > 0 && parsed.beta_end < 1))
    throw Error("scheduler config: beta_start and beta_end must lie between 0 and 1" + std::string(kFix));
  if (parsed.steps_offset < 0 || parsed.steps_offset >= parsed.num_train_timesteps)
    throw Error("scheduler config: steps_offset must be from 0 to num_train_timesteps - 1" + std::string(kFix));
  return parsed;
}

}  // namespace vsp::sampling
