#include "vsp/pipeline/denoise.hpp"

#include <torch/torch.h>

#include "vsp/attention/controller.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::pipeline {
namespace {

// One UNet call's rows [begin, end) and their conditioning, batched once for the whole run.
struct Group {
  int64_t begin, end;
  attention::Branch branch;
  text::Conditioning batch;
  at::Tensor unguided;  // bool [rows, 1, 1, 1]: take the conditional prediction alone
};

std::vector<Group> make_groups(const BranchLayout& layout, int64_t rows, bool guided, const text::Conditioning& uncond,
                               const text::Conditioning& cond, const c10::Device& device) {
  std::vector<std::tuple<int64_t, int64_t, attention::Branch>> spans;
  if (layout.reference_rows > 0) spans.emplace_back(0, layout.reference_rows, attention::Branch::reference);
  const int64_t first = layout.reference_rows;
  const int64_t chunk = layout.batch_size > 0 ? layout.batch_size : std::max<int64_t>(rows - first, 1);
  const auto branch = layout.reference_rows > 0 ? attention::Branch::targets : attention::Branch::all;
  for (int64_t begin = first; begin < rows; begin += chunk) spans.emplace_back(begin, std::min(rows, begin + chunk), branch);

  std::vector<Group> groups;
  for (const auto& [begin, end, group_branch] : spans) {
    std::vector<int64_t> index;
    std::vector<uint8_t> unguided;
    for (int64_t r = begin; r < end; ++r) {
      index.push_back(r);
      unguided.push_back(r < static_cast<int64_t>(layout.unguided.size()) && layout.unguided[r]);
    }
    const auto selected = cond.select(index);
    auto batch = guided ? text::Conditioning::cat({uncond.select(index), selected}) : selected;
    auto mask = torch::tensor(unguided, torch::kBool).view({end - begin, 1, 1, 1}).to(device);
    groups.push_back({begin, end, group_branch, std::move(batch), mask});
  }
  return groups;
}

}  // namespace

at::Tensor denoise(const models::Model& model, sampling::Scheduler& scheduler, at::Tensor latents,
                   const text::Conditioning& uncond, const text::Conditioning& cond, const DenoiseOptions& options) {
  torch::InferenceMode guard;
  PhaseClock clock("denoise", model.device);
  const auto& timesteps = scheduler.timesteps();
  const int steps = static_cast<int>(timesteps.size());
  bool guided = false;
  for (int i = 0; i < steps; ++i) guided = guided || options.guidance_at(i) > 1.0;
  const auto groups = make_groups(options.layout, latents.size(0), guided, uncond, cond, model.device);
  attention::ActiveScope scope(model.manifest.attention_layers, options.controller);

  for (int i = 0; i < steps; ++i) {
    if (options.before_unet) options.before_unet(i, latents);
    const auto input = scheduler.scale_model_input(latents, i);
    const auto t = torch::tensor(static_cast<float>(timesteps[i]), torch::TensorOptions().device(model.device));
    const double guidance = options.guidance_at(i);
    std::vector<at::Tensor> eps_parts;
    for (const auto& group : groups) {
      scope.set_step({i, steps, timesteps[i], guided ? 2 : 1, group.branch});
      auto rows = input.slice(0, group.begin, group.end);
      if (guided) rows = torch::cat({rows, rows});
      // On the CPU a convolution over a batch of one takes another kernel than over several, so
      // a lone unguided row runs twice: a row's numbers must not depend on its chunk.
      const bool lone = rows.size(0) == 1 && group.branch != attention::Branch::reference;
      const auto& c = group.batch;
      auto eps = lone ? model.unet.forward({torch::cat({rows, rows}).to(model.dtype), t, c.prompt_embeds.repeat({2, 1, 1}),
                                            c.pooled.repeat({2, 1}), c.time_ids.repeat({2, 1})})
                            .toTensor()
                            .slice(0, 0, 1)
                      : model.unet.forward({rows.to(model.dtype), t, c.prompt_embeds, c.pooled, c.time_ids}).toTensor();
      eps = eps.to(torch::kFloat);
      if (guided) {
        auto halves = eps.chunk(2);
        eps = torch::where(group.unguided, halves[1], halves[0] + guidance * (halves[1] - halves[0]));
      }
      eps_parts.push_back(eps);
    }
    const auto out = scheduler.step(eps_parts.size() == 1 ? eps_parts[0] : torch::cat(eps_parts), i, latents);
    latents = options.after_step ? options.after_step(i, out, latents) : out.prev_sample;
    if (options.progress) options.progress(i + 1, steps);
  }
  return latents;
}

at::Tensor initial_noise(uint64_t seed, std::vector<int64_t> shape, const c10::Device& device) {
  auto generator = at::detail::createCPUGenerator(seed);
  return torch::randn(shape, generator, torch::TensorOptions().dtype(torch::kFloat)).to(device);
}

}  // namespace vsp::pipeline
