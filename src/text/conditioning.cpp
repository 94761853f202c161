#include "vsp/text/conditioning.hpp"

#include <torch/torch.h>

#include <map>

#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"

namespace vsp::text {
namespace {

at::Tensor time_ids(const models::Model& model, int64_t rows, int width, int height) {
  // Original size = target size = the output size, no crop, as diffusers' SDXL pipeline does.
  auto ids = torch::tensor({double(height), double(width), 0.0, 0.0, double(height), double(width)},
                           torch::TensorOptions().dtype(model.dtype));
  return ids.unsqueeze(0).repeat({rows, 1}).to(model.device);
}

at::Tensor tokens(const ClipTokenizer& tokenizer, const std::string& prompt, size_t max_length, const c10::Device& device) {
  const auto ids = tokenizer.encode(prompt, max_length);
  return torch::tensor(ids, torch::kLong).view({1, static_cast<int64_t>(ids.size())}).to(device);
}

// One prompt through both encoders: [1, 77, H1 + H2] embeddings and [1, P] pooled.
std::pair<at::Tensor, at::Tensor> encode_one(const models::Model& model, const std::string& prompt) {
  const auto& encoders = model.manifest.text_encoders;
  const auto out_1 = model.text_encoder(0).forward({tokens(model.tokenizer, prompt, encoders[0].max_length, model.device)})
                         .toTuple();
  const auto out_2 = model.text_encoder(1)
                         .forward({tokens(model.tokenizer_2, prompt, encoders[1].max_length, model.device)})
                         .toTuple();
  const auto states_1 = out_1->elements()[0].toTensor(), states_2 = out_2->elements()[0].toTensor();
  const auto pooled = out_2->elements()[1].toTensor();
  // An encoder that disagrees with the manifest would fail later inside the UNet, far from the cause.
  const auto check = [&](const at::Tensor& t, int64_t size, const std::string& file) {
    if (t.dim() < 2 || t.size(-1) != size)
      throw Error(file + " gives " + std::to_string(t.dim() ? t.size(-1) : 0) + "-wide outputs but manifest.json says " +
                  std::to_string(size) + "; re-export the model with scripts/export.py");
  };
  check(states_1, encoders[0].hidden_size, encoders[0].file);
  check(states_2, encoders[1].hidden_size, encoders[1].file);
  check(pooled, encoders[1].pooled_size, encoders[1].file);
  return {torch::cat({states_1, states_2}, -1), pooled};
}

}  // namespace

Conditioning Conditioning::select(const std::vector<int64_t>& rows) const {
  const auto index = torch::tensor(rows, torch::kLong).to(prompt_embeds.device());
  return {prompt_embeds.index_select(0, index), pooled.index_select(0, index), time_ids.index_select(0, index)};
}

Conditioning Conditioning::cat(const std::vector<Conditioning>& parts) {
  std::vector<at::Tensor> embeds, pooled, ids;
  for (const auto& part : parts) {
    embeds.push_back(part.prompt_embeds);
    pooled.push_back(part.pooled);
    ids.push_back(part.time_ids);
  }
  return {torch::cat(embeds), torch::cat(pooled), torch::cat(ids)};
}

Conditioning encode_prompts(const models::Model& model, const std::vector<std::string>& prompts, int width, int height) {
  torch::InferenceMode guard;
  pipeline::PhaseClock clock("text", model.device);
  // Each distinct prompt alone: a row's embedding never depends on the other prompts of the run
  // (a batched projection's bits depend on the batch size), and repeats cost nothing.
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> encoded;
  std::vector<at::Tensor> embeds, pooled;
  for (const auto& prompt : prompts) {
    auto found = encoded.find(prompt);
    if (found == encoded.end()) found = encoded.emplace(prompt, encode_one(model, prompt)).first;
    embeds.push_back(found->second.first);
    pooled.push_back(found->second.second);
  }
  return {torch::cat(embeds), torch::cat(pooled), time_ids(model, static_cast<int64_t>(prompts.size()), width, height)};
}

Conditioning zero_conditioning(const models::Model& model, int64_t rows, int width, int height) {
  const auto& m = model.manifest;
  const auto options = torch::TensorOptions().dtype(model.dtype).device(model.device);
  const int64_t length = m.text_encoders[0].max_length;
  const int64_t hidden = m.text_encoders[0].hidden_size + m.text_encoders[1].hidden_size;
  return {torch::zeros({rows, length, hidden}, options), torch::zeros({rows, m.text_encoders[1].pooled_size}, options),
          time_ids(model, rows, width, height)};
}

Conditioning encode_negative(const models::Model& model, const std::optional<std::string>& negative, int64_t rows,
                             int width, int height) {
  if (!negative && model.manifest.force_zeros_for_empty_prompt) return zero_conditioning(model, rows, width, height);
  return encode_prompts(model, std::vector<std::string>(rows, negative.value_or("")), width, height);
}

}  // namespace vsp::text
