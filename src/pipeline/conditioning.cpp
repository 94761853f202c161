#include "vsp/pipeline/conditioning.hpp"

#include <torch/torch.h>

#include <map>

#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"

namespace vsp::pipeline {
namespace {

at::Tensor time_ids(const models::Model& model, int64_t rows, int width, int height) {
  if (!model.manifest.added_conditioning) return {};
  // Original size = target size = the output size, no crop, as diffusers' SDXL pipeline does.
  auto ids = torch::tensor({double(height), double(width), 0.0, 0.0, double(height), double(width)},
                           torch::TensorOptions().dtype(model.dtype));
  return ids.unsqueeze(0).repeat({rows, 1}).to(model.device);
}

at::Tensor tokens(const text::ClipTokenizer& tokenizer, const std::string& prompt, size_t max_length,
                  const c10::Device& device) {
  const auto ids = tokenizer.encode(prompt, max_length);
  return torch::tensor(ids, torch::kLong).view({1, static_cast<int64_t>(ids.size())}).to(device);
}

// An encoder that disagrees with the manifest would fail later inside the UNet, far from the cause.
void check_width(const at::Tensor& t, int64_t size, const std::string& file) {
  if (t.dim() < 2 || t.size(-1) != size)
    throw Error(file + " gives " + std::to_string(t.dim() ? t.size(-1) : 0) + "-wide outputs but manifest.json says " +
                std::to_string(size) + "; re-export the model with scripts/export.py");
}

// One prompt through every encoder: [1, 77, C] embeddings and, with added conditioning, the last
// encoder's [1, P] pooled embedding.
std::pair<at::Tensor, at::Tensor> encode_one(const models::Model& model, const std::string& prompt) {
  const auto& encoders = model.manifest.text_encoders;
  std::vector<at::Tensor> states;
  at::Tensor pooled;
  for (size_t i = 0; i < encoders.size(); ++i) {
    const auto& info = encoders[i];
    const auto outputs =
        model.text_encoder(i).forward({tokens(model.tokenizers[i], prompt, info.max_length, model.device)}).toTuple();
    const auto& elements = outputs->elements();
    if (elements.size() != models::kHiddenStates.size() + 1)
      throw Error(info.file + " is not a text encoder export of this vsp (it returns " +
                  std::to_string(elements.size()) + " outputs); re-export the model with scripts/export.py");
    states.push_back(elements[info.hidden_state_output].toTensor());
    check_width(states.back(), info.hidden_size, info.file);
    if (info.pooled_size > 0) {
      pooled = elements.back().toTensor();
      check_width(pooled, info.pooled_size, info.file);
    }
  }
  return {torch::cat(states, -1), model.manifest.added_conditioning ? pooled : at::Tensor()};
}

// Concatenates the defined parts; all undefined stays undefined.
at::Tensor cat_defined(const std::vector<at::Tensor>& parts) {
  return parts.empty() || !parts.front().defined() ? at::Tensor() : torch::cat(parts);
}

}  // namespace

Conditioning Conditioning::select(const std::vector<int64_t>& rows) const {
  const auto index = torch::tensor(rows, torch::kLong).to(prompt_embeds.device());
  const auto pick = [&](const at::Tensor& t) { return t.defined() ? t.index_select(0, index) : t; };
  return {pick(prompt_embeds), pick(pooled), pick(time_ids)};
}

Conditioning Conditioning::repeat(int64_t times) const {
  const auto tile = [&](const at::Tensor& t) {
    if (!t.defined()) return t;
    std::vector<int64_t> counts(t.dim(), 1);
    counts[0] = times;
    return t.repeat(counts);
  };
  return {tile(prompt_embeds), tile(pooled), tile(time_ids)};
}

Conditioning Conditioning::cat(const std::vector<Conditioning>& parts) {
  std::vector<at::Tensor> embeds, pooled, ids;
  for (const auto& part : parts) {
    embeds.push_back(part.prompt_embeds);
    pooled.push_back(part.pooled);
    ids.push_back(part.time_ids);
  }
  return {torch::cat(embeds), cat_defined(pooled), cat_defined(ids)};
}

Conditioning encode_prompts(const models::Model& model, const std::vector<std::string>& prompts, int width,
                            int height) {
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
  return {torch::cat(embeds), cat_defined(pooled),
          time_ids(model, static_cast<int64_t>(prompts.size()), width, height)};
}

Conditioning zero_conditioning(const models::Model& model, int64_t rows, int width, int height) {
  const auto& m = model.manifest;
  const auto options = torch::TensorOptions().dtype(model.dtype).device(model.device);
  const int64_t length = m.text_encoders.front().max_length;
  return {torch::zeros({rows, length, m.cross_attention_dim}, options),
          m.added_conditioning ? torch::zeros({rows, m.text_encoders.back().pooled_size}, options) : at::Tensor(),
          time_ids(model, rows, width, height)};
}

Conditioning encode_negative(const models::Model& model, const std::optional<std::string>& negative, int64_t rows,
                             int width, int height) {
  if (!negative && model.manifest.force_zeros_for_empty_prompt) return zero_conditioning(model, rows, width, height);
  return encode_prompts(model, std::vector<std::string>(rows, negative.value_or("")), width, height);
}

}  // namespace vsp::pipeline
