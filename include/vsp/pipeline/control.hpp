#pragma once
#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

#include "vsp/config/defaults.hpp"
#include "vsp/io/image.hpp"
#include "vsp/pipeline/denoiser.hpp"

namespace vsp::models {
struct Model;
}

namespace vsp::pipeline {

// What steers the layout through a ControlNet: the control map it sees (canny edges or a depth
// map, RGB at the output size, as saved beside the outputs), the ControlNet's kind, its scale and
// its step window. --control depth keeps the picture in depth_source until the model estimates
// its depth (with_depth_map): planning runs no model.
struct ControlSettings {
  std::optional<io::Image> map;
  std::optional<io::Image> depth_source;
  std::string kind;  // "canny" or "depth": the exported ControlNet; empty: no control
  double scale = defaults::control::scale;
  double start = defaults::control::start, end = defaults::control::end;

  bool active() const { return !kind.empty(); }
};

// Plans a control from its picture: canny makes the map now (OpenCV Canny on the picture resized
// to width x height, three channels), depth-map takes the picture as the map (resized), depth
// keeps it for the depth estimator. Throws vsp::Error on another control.
ControlSettings plan_control_map(const std::string& control, const io::Image& picture, int width, int height,
                                 int canny_low, int canny_high);
// The ControlNet a control needs: canny -> "canny", depth and depth-map -> "depth".
std::string controlnet_kind(const std::string& control);

// The depth map of `image` as the paper's depth script makes it: the exported DPT at its input
// size (the image prepared as its image processor does), the predicted depth resized bicubic to
// width x height, normalised min-max (a flat prediction gives black), scaled to 0-255 and
// truncated to 8 bits, three channels.
io::Image estimate_depth(const models::Model& model, const io::Image& image, int width, int height);
// The settings with their map made: a depth source becomes its estimated depth at width x height.
ControlSettings with_depth_map(ControlSettings settings, const models::Model& model, int width, int height);

// The denoiser's input for `rows` rows, each steered where `steered` says, from the settings
// (their map made).
ControlInput control_input(const ControlSettings& settings, const std::vector<bool>& steered,
                           const c10::Device& device);

}  // namespace vsp::pipeline
