#include "vsp/pipeline/denoiser.hpp"

#include <torch/torch.h>

#include "vsp/models/model.hpp"

namespace vsp::pipeline {

Denoiser::Denoiser(const models::Model& model, BranchLayout layout, int64_t rows, bool guided,
                   attention::AttentionController* controller)
    : model_(model),
      layout_(std::move(layout)),
      guided_(guided),
      controller_(controller),
      scope_(model.manifest.attention_layers, controller) {
  std::vector<std::pair<int64_t, int64_t>> spans;
  if (layout_.reference_rows > 0) spans.emplace_back(0, layout_.reference_rows);
  const int64_t first = layout_.reference_rows;
  const int64_t chunk = layout_.batch_size > 0 ? layout_.batch_size : std::max<int64_t>(rows - first, 1);
  for (int64_t begin = first; begin < rows; begin += chunk) spans.emplace_back(begin, std::min(rows, begin + chunk));
  for (const auto& [begin, end] : spans) {
    std::vector<uint8_t> unguided;
    for (int64_t r = begin; r < end; ++r)
      unguided.push_back(r < static_cast<int64_t>(layout_.unguided.size()) && layout_.unguided[r]);
    auto mask = torch::tensor(unguided, torch::kBool).view({end - begin, 1, 1, 1}).to(model.device);
    groups_.push_back({begin, end, begin < layout_.reference_rows, mask});
  }
}

double ControlInput::scale_at(int step, int steps) const {
  const double run = steps - first_step;
  const double from = (step - first_step) / run, to = (step - first_step + 1) / run;
  return kind.empty() || from < start || to > end ? 0.0 : scale;
}

at::Tensor Denoiser::unet(const at::Tensor& rows, const at::Tensor& timestep, const Conditioning& c,
                          const at::Tensor& control_images, double control_scale,
                          const std::string& control_kind) const {
  models::UNetInputs inputs{rows.to(model_.dtype), timestep, c.prompt_embeds, c.pooled, c.time_ids};
  if (control_scale != 0.0) {
    // The ControlNet sees the UNet's inputs and the control image; its residuals, scaled, join the UNet.
    const auto out = model_.controlnet(control_kind)
                         .forward(model_.controlnet_arguments(inputs, control_images.to(model_.dtype)))
                         .toTuple();
    for (const auto& residual : out->elements()[0].toTupleRef().elements())
      inputs.down_residuals.push_back(residual.toTensor() * control_scale);
    inputs.mid_residual = out->elements()[1].toTensor() * control_scale;
  }
  return model_.unet.forward(model_.unet_arguments(inputs)).toTensor();
}

at::Tensor Denoiser::predict(const at::Tensor& model_input, const DenoiserStep& step, const RowInputs& inputs) {
  const auto t = torch::tensor(static_cast<float>(step.timestep), torch::TensorOptions().device(model_.device));
  attention::StepContext context{step.index, step.count, step.timestep, step.phase, guided_ ? 2 : 1, 0, {}};
  std::vector<at::Tensor> parts;
  for (const auto& group : groups_) {
    std::vector<int64_t> index;
    context.first_row = group.begin;
    context.roles.clear();
    for (int64_t r = group.begin; r < group.end; ++r) {
      index.push_back(r);
      context.roles.push_back(r < static_cast<int64_t>(layout_.roles.size()) ? layout_.roles[r]
                                                                             : attention::RowRole::image);
    }
    scope_.set_step(context);
    const auto selected = inputs.cond.select(index);
    const auto c = guided_ ? Conditioning::cat({inputs.uncond.select(index), selected}) : selected;
    auto rows = model_input.slice(0, group.begin, group.end);
    if (guided_) rows = torch::cat({rows, rows});
    const auto& control = inputs.control;
    const bool controlled =
        !control.kind.empty() && group.begin < static_cast<int64_t>(control.rows.size()) && control.rows[group.begin];
    const double control_scale = controlled ? control.scale_at(step.index, step.count) : 0.0;
    at::Tensor images;
    if (control_scale != 0.0) {
      images = control.images.slice(0, group.begin, group.end);
      if (guided_) images = torch::cat({images, images});
    }
    // On the CPU a convolution over a batch of one takes another kernel than over several, so
    // a lone unguided row runs twice: a row's numbers must not depend on its chunk.
    at::Tensor eps;
    if (rows.size(0) == 1 && !group.reference) {
      eps = unet(torch::cat({rows, rows}), t, c.repeat(2), images.defined() ? torch::cat({images, images}) : images,
                 control_scale, control.kind)
                .slice(0, 0, 1);
    } else {
      eps = unet(rows, t, c, images, control_scale, control.kind);
    }
    eps = eps.to(torch::kFloat);
    if (guided_) {
      auto halves = eps.chunk(2);
      eps = torch::where(group.unguided, halves[1], guided_prediction(halves[0], halves[1], step.guidance));
    }
    parts.push_back(eps);
  }
  if (controller_ != nullptr) controller_->end_step(context);
  return parts.size() == 1 ? parts[0] : torch::cat(parts);
}

at::Tensor guided_prediction(const at::Tensor& uncond, const at::Tensor& cond, double scale) {
  return uncond + scale * (cond - uncond);
}

}  // namespace vsp::pipeline
