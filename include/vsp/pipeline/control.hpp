#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <optional>
#include <string>

#include "vsp/config/defaults.hpp"
#include "vsp/io/image.hpp"
#include "vsp/pipeline/denoiser.hpp"

namespace vsp::models {
struct Model;
}

namespace vsp::pipeline {

// What steers the layout through a ControlNet: the control ("canny", "depth" or "depth-map"), the
// picture its map comes from, the ControlNet's kind, its scale and its step window. The map (canny
// edges or a depth map, RGB at the output size, as saved beside the outputs) is made when the job
// runs (with_control_map): planning reads no picture and runs no model.
struct ControlSettings {
  std::string control;
  std::filesystem::path picture;
  int canny_low = defaults::control::canny_low, canny_high = defaults::control::canny_high;
  std::optional<io::Image> map;
  std::string kind;  // "canny" or "depth": the exported ControlNet; empty: no control
  double scale = defaults::control::scale;
  double start = defaults::control::start, end = defaults::control::end;

  bool active() const { return !kind.empty(); }
};

// The ControlNet a control needs: canny -> "canny", depth and depth-map -> "depth".
std::string controlnet_kind(const std::string& control);

// The depth map of `image` as the paper's depth script makes it: the exported DPT at its input
// size (the image prepared as its image processor does), the predicted depth resized bicubic to
// width x height, normalised min-max (a flat prediction gives black), scaled to 0-255 and
// truncated to 8 bits, three channels.
io::Image estimate_depth(const models::Model& model, const io::Image& image, int width, int height);
// The settings with their map made from the picture at width x height: canny runs OpenCV's Canny
// on the picture resized (three channels), depth-map takes the picture resized, depth estimates
// its depth with the model's estimator. No control: the settings as they are.
ControlSettings with_control_map(ControlSettings settings, const models::Model& model, int width, int height);

// The denoiser's input for `rows` rows, each steered where `steered` says, from the settings
// (their map made).
ControlInput control_input(const ControlSettings& settings, const std::vector<bool>& steered,
                           const c10::Device& device);

}  // namespace vsp::pipeline
