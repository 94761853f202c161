#include "vsp/pipeline/null_text.hpp"

#include <torch/torch.h>

#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {

NullTextResult optimise_null_text(const models::Model& model, sampling::Scheduler& scheduler,
                                  const std::vector<at::Tensor>& path, const Conditioning& cond,
                                  const Conditioning& uncond, double guidance, int max_iterations,
                                  const ProgressFn& progress) {
  const int steps = static_cast<int>(scheduler.timesteps().size());
  if (static_cast<int>(path.size()) != steps + 1) throw std::logic_error("null-text: the path and steps differ");
  if (c10::InferenceMode::is_enabled()) throw std::logic_error("null-text: called under InferenceMode");
  // Gradients flow to the embedding alone: Model::load loads every weight without requires_grad.
  // One row, unguided: the conditional and unconditional predictions are separate calls, as the original.
  Denoiser denoiser(model, BranchLayout{}, 1, false, nullptr);
  const auto predict = [&](const at::Tensor& latent, int i, const Conditioning& c) {
    return denoiser.predict(scheduler.scale_model_input(latent, i), {i, steps, scheduler.timesteps()[i], 1.0},
                            RowInputs{c, c, {}});
  };
  NullTextResult result;
  auto embeds = uncond.prompt_embeds.detach().clone();
  auto latent = path.back().detach();
  for (int i = 0; i < steps; ++i) {
    const auto& target = path[steps - 1 - i];
    at::Tensor eps_cond;
    {
      torch::NoGradGuard no_grad;
      eps_cond = predict(latent, i, cond);
    }
    embeds = embeds.detach().clone().requires_grad_(true);
    torch::optim::Adam adam({embeds}, torch::optim::AdamOptions(1e-2 * (1.0 - i / 100.0)));
    const double threshold = 1e-5 + i * 2e-5;
    int iterations = 0;
    double loss_value = 0;
    for (int j = 0; j < max_iterations; ++j) {
      const auto eps_uncond = predict(latent, i, {embeds, uncond.pooled, uncond.time_ids});
      const auto eps = guided_prediction(eps_uncond, eps_cond, guidance);
      const auto loss = torch::mse_loss(scheduler.step(eps, i, latent).prev_sample, target);
      adam.zero_grad();
      loss.backward();
      adam.step();
      loss_value = loss.item<double>();
      ++iterations;
      if (loss_value < threshold) break;
      if (progress)
        progress({"null-text", i, steps, "iteration " + std::to_string(j + 1) + "/" + std::to_string(max_iterations)});
    }
    embeds = embeds.detach();
    result.uncond_embeds.push_back(embeds);
    result.iterations.push_back(iterations);
    result.losses.push_back(loss_value);
    {
      torch::NoGradGuard no_grad;
      const auto eps_uncond = predict(latent, i, {embeds, uncond.pooled, uncond.time_ids});
      latent = scheduler.step(guided_prediction(eps_uncond, eps_cond, guidance), i, latent).prev_sample;
    }
    if (progress) progress({"null-text", i + 1, steps, ""});
  }
  return result;
}

}  // namespace vsp::pipeline
