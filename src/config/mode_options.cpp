// The options several modes share, for mode_schemas.cpp.
#include "mode_options.hpp"

#include "vsp/config/defaults.hpp"

namespace vsp::app::detail {

OptionSpec vae_tiling_option() {
  return {"vae_tiling",
          "--vae-tiling",
          ValueKind::text,
          "VAE decode in tiles: auto (images over 4 tiles' area, 2048x2048 on SDXL), on (over one tile), off",
          0,
          0,
          {"auto", "on", "off"}};
}

OptionSpec image_option(const char* help) { return shown_as({"image", "--image", ValueKind::text, help}, "FILE"); }

OptionSpec strength_option() {
  return with_default(OptionSpec{"strength",
                                 "--strength",
                                 ValueKind::number,
                                 "With --image: how much is repainted, above 0 (nothing) to 1 (all the steps, from "
                                 "the picture fully noised)",
                                 0,
                                 0,
                                 {},
                                 1},
                      defaults::generate::strength);
}

OptionSpec lora_option() {
  return shown_as({"lora", "--lora", ValueKind::text_list,
                   "LoRA to merge into the weights (kohya/A1111 or diffusers format), at WEIGHT or 1; "
                   "repeatable"},
                  "FILE[:WEIGHT]");
}

OptionSpec lora_dir_option() {
  return shown_as({"lora_dir", "--lora-dir", ValueKind::text,
                   "Read A1111's <lora:NAME:WEIGHT> tags in the prompt, as NAME.safetensors in this folder"},
                  "DIR");
}

OptionSpec prompt_weights_option(const char* help) {
  return with_default(OptionSpec{"prompt_weights", "--prompt-weights,!--no-prompt-weights", ValueKind::flag, help},
                      true);
}

const char* const kPromptWeightsHelp =
    "Read A1111's prompt syntax: (word:1.2), (word) x1.1, [word] /1.1, BREAK, \\( for a bracket, and prompts "
    "past 75 tokens in chunks; --no-prompt-weights reads the text as written, cut at 77 tokens (diffusers)";

std::vector<OptionSpec> with_control_options(std::vector<OptionSpec> options) {
  options.insert(
      options.end(),
      {
          {"control",
           "--control",
           ValueKind::text,
           "Steer the layout with a ControlNet: canny (edges of --control-image), depth (its depth, estimated) or "
           "depth-map (a ready depth map)",
           0,
           0,
           {"canny", "depth", "depth-map"}},
          shown_as({"control_image", "--control-image", ValueKind::text,
                    "The picture (PNG or JPEG) the control map comes from, or a folder of them"},
                   "FILE|DIR"),
          with_default(
              OptionSpec{
                  "control_scale", "--control-scale", ValueKind::number, "ControlNet strength, 0-10", 0, 0, {}, 10},
              defaults::control::scale),
          with_default(OptionSpec{"control_start",
                                  "--control-start",
                                  ValueKind::number,
                                  "Fraction of the steps where control starts",
                                  0,
                                  0,
                                  {},
                                  1},
                       defaults::control::start),
          with_default(OptionSpec{"control_end",
                                  "--control-end",
                                  ValueKind::number,
                                  "Fraction of the steps where control ends",
                                  0,
                                  0,
                                  {},
                                  1},
                       defaults::control::end),
          with_default(
              OptionSpec{"canny_low", "--canny-low", ValueKind::integer, "Canny's low threshold", 0, 0, {}, 10000},
              defaults::control::canny_low),
          with_default(
              OptionSpec{"canny_high", "--canny-high", ValueKind::integer, "Canny's high threshold", 0, 0, {}, 10000},
              defaults::control::canny_high),
      });
  return options;
}

}  // namespace vsp::app::detail
