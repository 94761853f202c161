#include "vsp/pipeline/inpaint_mask.hpp"

#include <torch/torch.h>

#include <cmath>

#include "vsp/error.hpp"

namespace vsp::pipeline {

namespace {

std::string size_text(int width, int height) { return std::to_string(width) + "x" + std::to_string(height); }

// Pillow's RGB to "L": (299 R + 587 G + 114 B) / 1000 in 16-bit fixed point, rounded.
io::Image to_grey(const io::Image& rgb) {
  io::Image grey{rgb.width, rgb.height, 1, std::vector<uint8_t>(static_cast<size_t>(rgb.width) * rgb.height)};
  for (size_t i = 0; i < grey.pixels.size(); ++i) {
    const uint8_t* p = &rgb.pixels[i * rgb.channels];
    grey.pixels[i] = static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
  }
  return grey;
}

// A normalised 1-D Gaussian over +-3 sigma, as a float32 tensor.
at::Tensor gaussian_kernel(double sigma) {
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  const auto x = torch::arange(-radius, radius + 1, torch::kFloat);
  const auto k = torch::exp(-x * x / (2 * sigma * sigma));
  return k / k.sum();
}

at::Tensor blur(const at::Tensor& mask, double sigma) {
  const auto k = gaussian_kernel(sigma);
  const int64_t radius = (k.size(0) - 1) / 2;
  namespace F = torch::nn::functional;
  auto out = F::pad(mask, F::PadFuncOptions({radius, radius, 0, 0}).mode(torch::kReplicate));
  out = F::conv2d(out, k.view({1, 1, 1, -1}));
  out = F::pad(out, F::PadFuncOptions({0, 0, radius, radius}).mode(torch::kReplicate));
  return F::conv2d(out, k.view({1, 1, -1, 1}));
}

}  // namespace

at::Tensor read_inpaint_mask(const std::filesystem::path& path, int picture_width, int picture_height, int width,
                             int height) {
  const auto image = io::read_image(path);
  if (image.width != picture_width || image.height != picture_height)
    throw UsageError("--mask " + path.string() + " is " + size_text(image.width, image.height) +
                     " but the picture is " + size_text(picture_width, picture_height) +
                     "; give a mask of the picture's size");
  const auto grey = to_grey(io::resize(image, width, height));  // diffusers resizes, then greys
  const auto values =
      torch::from_blob(const_cast<uint8_t*>(grey.pixels.data()), {1, 1, height, width}, torch::kUInt8).clone();
  return (values.to(torch::kFloat) / 255 >= 0.5).to(torch::kFloat);
}

at::Tensor latent_mask(const at::Tensor& mask, int64_t latent_height, int64_t latent_width) {
  namespace F = torch::nn::functional;
  return F::interpolate(mask, F::InterpolateFuncOptions().size(std::vector<int64_t>{latent_height, latent_width}));
}

at::Tensor overlay_on_picture(const at::Tensor& images, const io::Image& picture, const at::Tensor& mask,
                              double blur_sigma) {
  const int64_t height = images.size(1), width = images.size(2);
  const auto resized = io::resize(picture, static_cast<int>(width), static_cast<int>(height));
  const auto original =
      torch::from_blob(const_cast<uint8_t*>(resized.pixels.data()), {1, height, width, resized.channels}, torch::kUInt8)
          .to(torch::kFloat);
  const auto weight = (blur_sigma > 0 ? blur(mask, blur_sigma) : mask).permute({0, 2, 3, 1});
  const auto mixed = original * (1 - weight) + images.to(torch::kFloat) * weight;
  return mixed.round().clamp(0, 255).to(torch::kUInt8);
}

}  // namespace vsp::pipeline
