#include "vsp/pipeline/conditioning.hpp"

#include <torch/torch.h>

#include <algorithm>
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

// An encoder that disagrees with the manifest would fail later inside the UNet, far from the cause.
void check_width(const at::Tensor& t, int64_t size, const std::string& file) {
  if (t.dim() < 2 || t.size(-1) != size)
    throw Error(file + " gives " + std::to_string(t.dim() ? t.size(-1) : 0) + "-wide outputs but manifest.json says " +
                std::to_string(size) + "; re-export the model with scripts/export.py");
}

// A1111's "Original" emphasis: each token's hidden states times its weight, then the chunk rescaled
// to its unweighted mean, in float32 as A1111's float multipliers make it.
at::Tensor emphasise(const at::Tensor& states, const std::vector<float>& weights) {
  // All weights 1 would give the same numbers (z * 1, and a mean ratio of exactly 1).
  if (std::all_of(weights.begin(), weights.end(), [](float w) { return w == 1.0f; })) return states;
  const auto z = states.to(torch::kFloat);
  const auto multipliers = torch::tensor(weights, torch::kFloat).view({1, -1, 1}).to(z.device());
  const auto original_mean = states.mean().to(torch::kFloat);  // in the encoder's dtype, as A1111 takes it
  const auto weighted = z * multipliers.expand(z.sizes());
  return (weighted * (original_mean / weighted.mean())).to(states.scalar_type());
}

// One prompt through every encoder: [1, 77 * chunks, C] embeddings and, with added conditioning,
// the last encoder's [1, P] pooled embedding of the first chunk.
std::pair<at::Tensor, at::Tensor> encode_one(const models::Model& model, const std::string& prompt,
                                             text::PromptSyntax syntax) {
  const auto& encoders = model.manifest.text_encoders;
  std::vector<at::Tensor> states;
  at::Tensor pooled;
  for (size_t i = 0; i < encoders.size(); ++i) {
    const auto& info = encoders[i];
    const auto chunks = text::prompt_chunks(model.tokenizers[i], prompt, syntax, info.max_length);
    std::vector<at::Tensor> chunk_states;
    for (const auto& chunk : chunks) {
      const auto ids = torch::tensor(chunk.ids, torch::kLong).view({1, -1}).to(model.device);
      const auto outputs = model.text_encoder(i).forward({ids}).toTuple();
      const auto& elements = outputs->elements();
      if (elements.size() != models::kHiddenStates.size() + 1)
        throw Error(info.file + " is not a text encoder export of this vsp (it returns " +
                    std::to_string(elements.size()) + " outputs); re-export the model with scripts/export.py");
      const auto hidden = elements[info.hidden_state_output].toTensor();
      check_width(hidden, info.hidden_size, info.file);
      chunk_states.push_back(emphasise(hidden, chunk.weights));
      if (info.pooled_size > 0 && chunk_states.size() == 1) {
        pooled = elements.back().toTensor();
        check_width(pooled, info.pooled_size, info.file);
      }
    }
    states.push_back(torch::cat(chunk_states, 1));
    if (states.front().size(1) != states.back().size(1))
      throw Error("the model's tokenizers split \"" + prompt + "\" into different numbers of chunks");
  }
  return {torch::cat(states, -1), model.manifest.added_conditioning ? pooled : at::Tensor()};
}

// Rows lengthened to `length` tokens with repeats of `padding`.
at::Tensor lengthen(const at::Tensor& embeds, const at::Tensor& padding, int64_t length) {
  if (embeds.size(1) == length) return embeds;
  if (!padding.defined()) throw Error("conditioning rows of different lengths and no padding to even them");
  const int64_t repeats = (length - embeds.size(1)) / padding.size(1);
  return torch::cat({embeds, padding.expand({embeds.size(0), -1, -1}).repeat({1, repeats, 1})}, 1);
}

// Concatenates the defined parts; all undefined stays undefined.
at::Tensor cat_defined(const std::vector<at::Tensor>& parts) {
  return parts.empty() || !parts.front().defined() ? at::Tensor() : torch::cat(parts);
}

}  // namespace

Conditioning Conditioning::select(const std::vector<int64_t>& rows) const {
  const auto index = torch::tensor(rows, torch::kLong).to(prompt_embeds.device());
  const auto pick = [&](const at::Tensor& t) { return t.defined() ? t.index_select(0, index) : t; };
  return {pick(prompt_embeds), pick(pooled), pick(time_ids), padding};
}

Conditioning Conditioning::repeat(int64_t times) const {
  const auto tile = [&](const at::Tensor& t) {
    if (!t.defined()) return t;
    std::vector<int64_t> counts(t.dim(), 1);
    counts[0] = times;
    return t.repeat(counts);
  };
  return {tile(prompt_embeds), tile(pooled), tile(time_ids), padding};
}

Conditioning Conditioning::cat(const std::vector<Conditioning>& parts) {
  std::vector<at::Tensor> embeds, pooled, ids;
  int64_t length = 0;
  at::Tensor padding;
  for (const auto& part : parts) {
    length = std::max(length, part.prompt_embeds.size(1));
    if (!padding.defined()) padding = part.padding;
  }
  for (const auto& part : parts) {
    embeds.push_back(lengthen(part.prompt_embeds, padding, length));
    pooled.push_back(part.pooled);
    ids.push_back(part.time_ids);
  }
  return {torch::cat(embeds), cat_defined(pooled), cat_defined(ids), padding};
}

Conditioning encode_prompts(const models::Model& model, const std::vector<std::string>& prompts, int width, int height,
                            text::PromptSyntax syntax) {
  torch::InferenceMode guard;
  pipeline::PhaseClock clock("text", model.device);
  // Each distinct prompt alone: a row's embedding never depends on the other prompts of the run
  // (a batched projection's bits depend on the batch size), and repeats cost nothing.
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> encoded;
  std::vector<at::Tensor> embeds, pooled;
  for (const auto& prompt : prompts) {
    auto found = encoded.find(prompt);
    if (found == encoded.end()) found = encoded.emplace(prompt, encode_one(model, prompt, syntax)).first;
    embeds.push_back(found->second.first);
    pooled.push_back(found->second.second);
  }
  Conditioning c{{}, cat_defined(pooled), time_ids(model, static_cast<int64_t>(prompts.size()), width, height)};
  int64_t length = 0;
  for (const auto& e : embeds) length = std::max(length, e.size(1));
  if (length > model.manifest.text_encoders.front().max_length) {
    c.padding = encode_one(model, "", syntax).first;
    for (auto& e : embeds) e = lengthen(e, c.padding, length);
  }
  c.prompt_embeds = torch::cat(embeds);
  return c;
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
                             int width, int height, text::PromptSyntax syntax) {
  if (!negative && model.manifest.force_zeros_for_empty_prompt) return zero_conditioning(model, rows, width, height);
  return encode_prompts(model, std::vector<std::string>(rows, negative.value_or("")), width, height, syntax);
}

}  // namespace vsp::pipeline
