#include "vsp/pipeline/vae_decode.hpp"

#include <torch/torch.h>

#include "vsp/error.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"

namespace vsp::pipeline {
namespace {

at::Tensor decode_whole(const models::Model& model, const at::Tensor& latent) {
  return model.vae_decoder.forward({latent.contiguous(at::MemoryFormat::ChannelsLast)}).toTensor();
}

// b's first rows (dim 2) or columns (dim 3) fade in from a's last ones, in place, as diffusers'
// blend_v and blend_h: the same float arithmetic, one line at a time.
void blend(const at::Tensor& a, at::Tensor& b, int64_t dim, int64_t extent) {
  extent = std::min({a.size(dim), b.size(dim), extent});
  for (int64_t y = 0; y < extent; ++y) {
    const double weight = static_cast<double>(y) / static_cast<double>(extent);
    b.select(dim, y).copy_(a.select(dim, a.size(dim) - extent + y) * (1 - weight) + b.select(dim, y) * weight);
  }
}

// diffusers' AutoencoderKL.tiled_decode with its defaults: tiles of the VAE's sample size, a
// quarter of a tile of overlap, each tile blended into the ones above and to its left after
// those were blended themselves, then cropped to three quarters of a tile.
at::Tensor decode_tiled(const models::Model& model, const at::Tensor& latent) {
  const int64_t tile_pixels = model.manifest.vae_tile_size;
  const int64_t tile_latent = tile_pixels / model.manifest.vae_scale_factor;
  const int64_t stride = static_cast<int64_t>(tile_latent * 0.75);
  const int64_t blend_extent = static_cast<int64_t>(tile_pixels * 0.25);
  const int64_t keep = tile_pixels - blend_extent;
  std::vector<std::vector<at::Tensor>> tiles;
  for (int64_t i = 0; i < latent.size(2); i += stride) {
    auto& row = tiles.emplace_back();
    for (int64_t j = 0; j < latent.size(3); j += stride)
      row.push_back(decode_whole(model, latent.slice(2, i, i + tile_latent).slice(3, j, j + tile_latent)).contiguous());
  }
  std::vector<at::Tensor> rows;
  for (size_t i = 0; i < tiles.size(); ++i) {
    std::vector<at::Tensor> kept;
    for (size_t j = 0; j < tiles[i].size(); ++j) {
      auto& tile = tiles[i][j];
      if (i > 0) blend(tiles[i - 1][j], tile, 2, blend_extent);
      if (j > 0) blend(tiles[i][j - 1], tile, 3, blend_extent);
      kept.push_back(tile.slice(2, 0, keep).slice(3, 0, keep));
    }
    rows.push_back(torch::cat(kept, 3));
  }
  return torch::cat(rows, 2);
}

}  // namespace

VaeTiling parse_vae_tiling(const std::string& name) {
  if (name == "auto") return VaeTiling::automatic;
  if (name == "on") return VaeTiling::on;
  if (name == "off") return VaeTiling::off;
  throw UsageError("unknown VAE tiling '" + name + "'; use auto, on or off");
}

bool decodes_in_tiles(const models::Manifest& manifest, VaeTiling tiling, int64_t width, int64_t height) {
  const int64_t tile = manifest.vae_tile_size;
  switch (tiling) {
    case VaeTiling::off:
      return false;
    case VaeTiling::on:
      return width > tile || height > tile;
    case VaeTiling::automatic:
      return width * height > 4 * tile * tile;
  }
  return false;
}

at::Tensor decode_latents(const models::Model& model, const at::Tensor& latents, VaeTiling tiling,
                          const ProgressFn& progress) {
  torch::InferenceMode guard;
  PhaseClock clock("decode", model.device);
  // The denoising loop's freed activations stay in the C heap unless handed back before the
  // decoder allocates its own (docs/benchmarks.md).
  models::release_free_memory();
  const int64_t scale = model.manifest.vae_scale_factor;
  const bool tiled = decodes_in_tiles(model.manifest, tiling, latents.size(3) * scale, latents.size(2) * scale);
  // One image per call: the VAE's memory stays that of one image, and an image's pixels never
  // depend on how many others are decoded with it.
  std::vector<at::Tensor> images;
  for (int64_t row = 0; row < latents.size(0); ++row) {
    const auto scaled = (latents.slice(0, row, row + 1) / model.manifest.scaling_factor).to(model.vae_dtype);
    const auto image = tiled ? decode_tiled(model, scaled) : decode_whole(model, scaled);
    images.push_back(image.to(torch::kCPU, torch::kFloat));
    if (progress) progress({"decode", static_cast<int>(row + 1), static_cast<int>(latents.size(0)), ""});
  }
  const auto image = (torch::cat(images) / 2 + 0.5).clamp(0, 1);
  return (image.permute({0, 2, 3, 1}) * 255).round().to(torch::kUInt8).contiguous();
}

}  // namespace vsp::pipeline
