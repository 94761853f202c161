#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "vsp/pipeline/progress.hpp"

namespace vsp::models {
struct Manifest;
struct Model;
}  // namespace vsp::models

namespace vsp::pipeline {

// Tiled decoding runs the VAE decoder on overlapping tiles of the VAE's own size and blends the
// seams, exactly as diffusers' AutoencoderKL.tiled_decode: its memory is that of one tile at any
// image size, and its pixels differ slightly from a whole decode.
enum class VaeTiling {
  automatic,  // tile images of more than four tiles' area (above 2048x2048 on SDXL)
  on,         // tile whenever the image is larger than one tile (diffusers' enable_vae_tiling)
  off,        // never tile
};

// "auto", "on" or "off"; throws vsp::Error on anything else.
VaeTiling parse_vae_tiling(const std::string& name);

// Whether an image of this size is decoded in tiles.
bool decodes_in_tiles(const models::Manifest& manifest, VaeTiling tiling, int64_t width, int64_t height);

// VAE decode, one image at a time, in the VAE's dtype (fp32 unless the export says otherwise) to
// uint8 [N, H, W, 3] on the CPU, rounded as diffusers' numpy_to_pil does.
at::Tensor decode_latents(const models::Model& model, const at::Tensor& latents, VaeTiling tiling,
                          const ProgressFn& progress = {});

}  // namespace vsp::pipeline
