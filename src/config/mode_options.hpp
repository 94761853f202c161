#pragma once
// The options several modes share (mode_options.cpp), for mode_schemas.cpp.
#include <cstdint>
#include <vector>

#include "vsp/config/modes.hpp"

namespace vsp::app::detail {

// Guidance past 100 only burns the image; the paper's warm-up uses 20.
inline constexpr int64_t kMaxGuidance = 100;
inline constexpr int64_t kMaxImages = kMaxImagesPerJob;

OptionSpec vae_tiling_option();
// Image to image (generate and style): the picture, with the help of each, and --strength.
OptionSpec image_option(const char* help);
OptionSpec strength_option();
// LoRAs merged into the weights for the job (generate and style).
OptionSpec lora_option();
OptionSpec lora_dir_option();
// generate and style read A1111's prompt syntax; edit refuses it (prompt-to-prompt aligns plain
// words), so each gives its own help.
OptionSpec prompt_weights_option(const char* help);
extern const char* const kPromptWeightsHelp;
// ControlNet: the same flags on generate and style, after `options`.
std::vector<OptionSpec> with_control_options(std::vector<OptionSpec> options);

}  // namespace vsp::app::detail
