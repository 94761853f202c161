#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "vsp/text/prompt_weights.hpp"

namespace vsp::models {
struct Model;
}

namespace vsp::pipeline {

// The UNet's text conditioning for a batch of rows. pooled and time_ids exist only for a model
// whose UNet takes added conditioning (SDXL); elsewhere they are undefined tensors.
struct Conditioning {
  at::Tensor prompt_embeds;  // [B, 77 * chunks, C]: the encoders' hidden states, concatenated (SDXL: 768 + 1280)
  at::Tensor pooled;         // [B, P]: the last encoder's pooled embedding (SDXL: CLIP-G's, 1280)
  at::Tensor time_ids;       // [B, 6]: (orig_h, orig_w, crop_top, crop_left, target_h, target_w)
  // [1, 77, C]: the empty prompt's embeddings, which lengthen shorter rows to the longest when rows
  // are put together (A1111's "pad prompt/negative prompt to be same length"); defined when a row
  // has more than one chunk.
  at::Tensor padding;

  int64_t rows() const { return prompt_embeds.size(0); }
  Conditioning select(const std::vector<int64_t>& rows) const;
  Conditioning repeat(int64_t times) const;  // the rows, `times` times over
  // The parts' rows in order, the shorter ones lengthened with a part's padding.
  static Conditioning cat(const std::vector<Conditioning>& parts);
};

// Encodes prompts with the model's text encoders, on the model's device and dtype, read with
// `syntax`: A1111's weights scale each token's hidden states (per encoder and chunk, rescaled to the
// chunk's unweighted mean, as A1111's "Original" emphasis); chunks are concatenated along the tokens
// and the pooled embedding is the first chunk's.
Conditioning encode_prompts(const models::Model& model, const std::vector<std::string>& prompts, int width, int height,
                            text::PromptSyntax syntax);
// All-zero embeddings: SDXL's negative conditioning when no negative prompt is given (its
// pipeline's force_zeros_for_empty_prompt).
Conditioning zero_conditioning(const models::Model& model, int64_t rows, int width, int height);
// The negative conditioning as each family's diffusers pipeline makes it: zeros when `negative` is
// absent and the model asks for it (SDXL), otherwise the encoded text, "" when absent (SD 1.x/2.x).
Conditioning encode_negative(const models::Model& model, const std::optional<std::string>& negative, int64_t rows,
                             int width, int height, text::PromptSyntax syntax);

}  // namespace vsp::pipeline
