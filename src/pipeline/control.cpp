#include "vsp/pipeline/control.hpp"

#include <torch/torch.h>

#include "vsp/error.hpp"
#include "vsp/models/model.hpp"

namespace vsp::pipeline {

namespace F = torch::nn::functional;

std::string controlnet_kind(const std::string& control) {
  if (control == "canny") return "canny";
  if (control == "depth" || control == "depth-map") return "depth";
  throw UsageError("unknown --control '" + control + "'; use canny, depth or depth-map");
}

namespace {

// uint8 HWC -> float [1, C, H, W] with values 0-255.
at::Tensor to_tensor(const io::Image& image) {
  const auto pixels = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()),
                                       {image.height, image.width, image.channels}, torch::kUInt8);
  return pixels.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat);
}

}  // namespace

io::Image estimate_depth(const models::Model& model, const io::Image& image, int width, int height) {
  auto& estimator = model.depth_estimator();  // throws when the export has none
  const auto& info = *model.manifest.depth_estimator;
  torch::NoGradGuard no_grad;
  // The image processor resizes with Pillow.
  const auto resized = to_tensor(io::resize(image, info.width, info.height,
                                            info.resample == "bilinear" ? io::Filter::bilinear : io::Filter::bicubic))
                           .slice(1, 0, 3);
  const auto mean = torch::tensor({info.mean[0], info.mean[1], info.mean[2]}, torch::kFloat).view({1, 3, 1, 1});
  const auto std = torch::tensor({info.std[0], info.std[1], info.std[2]}, torch::kFloat).view({1, 3, 1, 1});
  const auto input = ((resized * info.rescale - mean) / std).to(model.device, model.dtype);
  const auto depth = estimator.forward({input}).toTensor().to(torch::kCPU, torch::kFloat);  // [1, h, w]
  const auto full = F::interpolate(
      depth.unsqueeze(1),
      F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width}).mode(torch::kBicubic).align_corners(false));
  const auto low = full.min(), range = full.max() - low;
  const auto normalised = range.item<float>() > 0 ? (full - low) / range : torch::zeros_like(full);
  // Truncated, not rounded: the paper's script casts with numpy's astype(uint8).
  const auto bytes = (normalised * 255.0).clamp(0, 255).to(torch::kUInt8)[0][0];
  const auto rgb_map = bytes.unsqueeze(-1).expand({height, width, 3}).contiguous();
  return {width, height, 3,
          std::vector<uint8_t>(rgb_map.data_ptr<uint8_t>(), rgb_map.data_ptr<uint8_t>() + rgb_map.numel())};
}

ControlSettings with_control_map(ControlSettings settings, const models::Model& model, int width, int height) {
  if (!settings.active() || settings.map) return settings;
  const auto picture = io::read_image(settings.picture);
  if (settings.control == "depth") {
    settings.map = estimate_depth(model, picture, width, height);
    return settings;
  }
  const auto resized =
      picture.width == width && picture.height == height ? picture : io::resize(picture, width, height);
  settings.map =
      settings.control == "canny" ? io::canny_edges(resized, settings.canny_low, settings.canny_high) : resized;
  return settings;
}

ControlInput control_input(const ControlSettings& settings, const std::vector<bool>& steered,
                           const c10::Device& device) {
  ControlInput input;
  if (!settings.active()) return input;
  if (!settings.map) throw std::logic_error("control_input: the control map was not made (with_control_map)");
  // float [1, 3, H, W] in [0, 1], as diffusers' control image processor (no normalising).
  const auto image = to_tensor(*settings.map).div(255.0);
  input.kind = settings.kind;
  input.images = image.expand({static_cast<int64_t>(steered.size()), -1, -1, -1}).contiguous().to(device);
  input.rows = steered;
  input.scale = settings.scale;
  input.start = settings.start;
  input.end = settings.end;
  return input;
}

}  // namespace vsp::pipeline
