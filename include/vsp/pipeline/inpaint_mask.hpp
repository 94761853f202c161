#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>

#include "vsp/io/image.hpp"

namespace vsp::pipeline {

// A masked edit's mask (white = repaint), as diffusers' inpainting pipelines prepare it: the
// picture resized to width x height like the picture it covers, in grey (Pillow's "L" weights),
// then binarised at one half. float32 [1, 1, height, width] of 0 and 1, on the CPU. Throws
// vsp::UsageError when the mask's size differs from the picture's (picture_width x picture_height).
at::Tensor read_inpaint_mask(const std::filesystem::path& path, int picture_width, int picture_height, int width,
                             int height);

// The mask at the latents' size (nearest neighbour, as torch.nn.functional.interpolate's default).
at::Tensor latent_mask(const at::Tensor& mask, int64_t latent_height, int64_t latent_width);

// A1111's inpaint overlay: the generated images (uint8 [N, H, W, 3]) over the picture (resized
// to their size) through the mask feathered by a Gaussian of standard deviation blur_sigma pixels,
// so that what was not repainted keeps the picture's own pixels instead of their VAE round trip.
at::Tensor overlay_on_picture(const at::Tensor& images, const io::Image& picture, const at::Tensor& mask,
                              double blur_sigma);

}  // namespace vsp::pipeline
