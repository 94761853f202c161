#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

namespace vsp::models {
struct Model;
}

namespace vsp::text {

// SDXL's UNet conditioning for a batch of rows.
struct Conditioning {
  at::Tensor prompt_embeds;  // [B, 77, 2048]: penultimate states of CLIP-L and CLIP-G, concatenated
  at::Tensor pooled;         // [B, 1280]: CLIP-G's projected EOS embedding
  at::Tensor time_ids;       // [B, 6]: (orig_h, orig_w, crop_top, crop_left, target_h, target_w)

  int64_t rows() const { return prompt_embeds.size(0); }
  Conditioning select(const std::vector<int64_t>& rows) const;
  static Conditioning cat(const std::vector<Conditioning>& parts);
};

// Encodes prompts with both text encoders, on the model's device and dtype.
Conditioning encode_prompts(const models::Model& model, const std::vector<std::string>& prompts, int width, int height);
// All-zero embeddings: SDXL's negative conditioning when no negative prompt is given.
Conditioning zero_conditioning(const models::Model& model, int64_t rows, int width, int height);
// The negative conditioning: zeros when `negative` is absent (and the model asks for it),
// otherwise the encoded text, even when it is "".
Conditioning encode_negative(const models::Model& model, const std::optional<std::string>& negative, int64_t rows,
                             int width, int height);

}  // namespace vsp::text
