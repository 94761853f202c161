#pragma once
// Every constant option default of the methods, spelled once: the pipeline's request structs start
// from these, the planners fall back to them, and the help text shows them (app::shown_default).
// Defaults that depend on the model or the style (sizes, a style's steps) are not here.

namespace vsp::defaults {

namespace generate {
inline constexpr int steps = 50;
inline constexpr double cfg = 5.0;
inline constexpr const char* sampler = "euler";
inline constexpr int num = 1;
inline constexpr double strength = 0.75;  // --image: A1111's and stable-diffusion.cpp's denoising strength
}  // namespace generate

namespace control {
inline constexpr double scale = 1.0;
inline constexpr double start = 0.0;  // fractions of the steps
inline constexpr double end = 1.0;
inline constexpr int canny_low = 100;  // OpenCV's Canny thresholds, as diffusers' ControlNet examples
inline constexpr int canny_high = 200;
}  // namespace control

namespace style {
inline constexpr const char* reference_trajectory = "noise";
inline constexpr bool color_calibration = true;
inline constexpr bool shared_adain = true;
}  // namespace style

namespace transfer {  // StyleID's own defaults (docs/methods.md, section 2)
inline constexpr int steps = 50;
inline constexpr int start_step = 1;  // the official code skips the first sampling step
inline constexpr double gamma = 0.75;
inline constexpr double tau = 1.5;
inline constexpr bool adain = true;
inline constexpr bool injection = true;
}  // namespace transfer

namespace edit {  // the prompt-to-prompt notebooks' defaults (docs/methods.md, section 3)
inline constexpr int steps = 50;
inline constexpr double cfg = 7.5;
inline constexpr const char* sampler = "ddim";
inline constexpr double blend_threshold = 0.3;
inline constexpr double cross_replace = 0.8;
inline constexpr double self_replace = 0.4;
inline constexpr int null_text_iterations = 10;
inline constexpr bool source_pooled = false;
}  // namespace edit

}  // namespace vsp::defaults
