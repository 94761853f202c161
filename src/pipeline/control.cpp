#include "vsp/pipeline/control.hpp"

#include <torch/torch.h>

#include "vsp/error.hpp"

namespace vsp::pipeline {

io::Image control_map(const std::string& control, const io::Image& image, int width, int height, int canny_low,
                      int canny_high) {
  const auto resized = image.width == width && image.height == height ? image : io::resize(image, width, height);
  if (control == "canny") return io::canny_edges(resized, canny_low, canny_high);
  if (control == "depth-map") return resized;
  throw Error("unknown --control '" + control + "'; use canny or depth-map");
}

std::string controlnet_kind(const std::string& control) { return control == "depth-map" ? "depth" : control; }

ControlInput control_input(const ControlSettings& settings, const std::vector<bool>& steered, const c10::Device& device) {
  ControlInput input;
  if (!settings.map) return input;
  const auto& map = *settings.map;
  // uint8 HWC -> float [1, 3, H, W] in [0, 1], as diffusers' control image processor (no normalising).
  const auto pixels = torch::from_blob(const_cast<uint8_t*>(map.pixels.data()), {map.height, map.width, map.channels},
                                       torch::kUInt8);
  const auto image = pixels.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat).div(255.0);
  input.kind = settings.kind;
  input.images = image.expand({static_cast<int64_t>(steered.size()), -1, -1, -1}).contiguous().to(device);
  input.rows = steered;
  input.scale = settings.scale;
  input.start = settings.start;
  input.end = settings.end;
  return input;
}

}  // namespace vsp::pipeline
