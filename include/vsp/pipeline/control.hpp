#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

#include "vsp/io/image.hpp"
#include "vsp/pipeline/denoiser.hpp"

namespace vsp::pipeline {

// What steers the layout through a ControlNet: the control map it sees (canny edges or a depth
// map, RGB at the output size, as saved beside the outputs), the ControlNet's kind, its scale and
// its step window.
struct ControlSettings {
  std::optional<io::Image> map;
  std::string kind;  // "canny" or "depth": the exported ControlNet
  double scale = 1.0;
  double start = 0.0, end = 1.0;
};

// The control map for --control canny (OpenCV Canny on the image resized to width x height, three
// channels) or depth-map (a ready depth map, resized). Throws vsp::Error on another control.
io::Image control_map(const std::string& control, const io::Image& image, int width, int height, int canny_low,
                      int canny_high);
// The ControlNet a control needs: canny -> "canny", depth-map -> "depth".
std::string controlnet_kind(const std::string& control);
// The denoiser's input for `rows` rows, each steered where `steered` says, from the settings.
ControlInput control_input(const ControlSettings& settings, const std::vector<bool>& steered, const c10::Device& device);

}  // namespace vsp::pipeline
