#include "vsp/attention/style_injection.hpp"

#include <ATen/ATen.h>

#include <cmath>

#include "vsp/error.hpp"

namespace vsp::attention {

StyleInjectionController::StyleInjectionController(std::vector<bool> layers, double gamma, double tau, int64_t contents,
                                                   std::vector<Pair> pairs, int64_t first_stylised_row, bool cache)
    : layers_(std::move(layers)),
      gamma_(gamma),
      tau_(tau),
      contents_(contents),
      pairs_(std::move(pairs)),
      first_stylised_row_(first_stylised_row),
      cache_(cache) {}

bool StyleInjectionController::recording(const StepContext& step) const {
  return cache_ ? step.phase == Phase::inversion : step.phase == Phase::sampling;
}

at::Tensor StyleInjectionController::attend(const models::AttentionLayer& layer, const StepContext& step,
                                            const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (!layer.self || layer.id >= static_cast<int>(layers_.size()) || !layers_[layer.id]) return sdpa(q, k, v);
  if (step.cfg_halves != 1) throw std::logic_error("style injection runs unguided");
  const auto key = std::make_pair(layer.id, static_cast<int64_t>(std::llround(step.timestep)));
  if (!step.roles.empty() && step.roles.front() != RowRole::stylised) {
    // The image rows' call: all of them, contents first.
    if (recording(step)) {
      if (step.first_row != 0 || q.size(0) <= contents_)
        throw std::logic_error("style injection: the image rows must run together, contents first");
      features_[key] = {q.slice(0, 0, contents_), k.slice(0, contents_), v.slice(0, contents_)};
    }
    return sdpa(q, k, v);
  }
  if (!step.all_rows_are(RowRole::stylised))
    throw std::logic_error("style injection: a call mixes stylised and image rows");
  const auto found = features_.find(key);
  if (found == features_.end())
    throw Error("style injection: no recorded features at timestep " + std::to_string(key.second) + " in layer " +
                layer.name);
  std::vector<int64_t> content_rows, style_rows;
  for (size_t r = 0; r < step.roles.size(); ++r) {
    const auto& pair = pairs_.at(static_cast<size_t>(step.first_row + static_cast<int64_t>(r) - first_stylised_row_));
    content_rows.push_back(pair.content);
    style_rows.push_back(pair.style);
  }
  const auto& f = found->second;
  const auto index = [&](const std::vector<int64_t>& rows) {
    return at::tensor(rows, at::TensorOptions().dtype(at::kLong)).to(q.device());
  };
  const auto content_q = f.content_q.index_select(0, index(content_rows));
  const auto blended = content_q * gamma_ + q * (1.0 - gamma_);
  // softmax(tau q~ K^T / sqrt(d)): the temperature scales the logits, so it scales q~.
  return sdpa(blended * tau_, f.style_k.index_select(0, index(style_rows)),
              f.style_v.index_select(0, index(style_rows)));
}

void StyleInjectionController::end_step(const StepContext& step) {
  if (!cache_ && step.phase == Phase::sampling) features_.clear();
}

}  // namespace vsp::attention
