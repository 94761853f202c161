#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vsp/config/attention_layer.hpp"

namespace vsp::models {

struct TextEncoderInfo {
  std::string file;
  std::string tokenizer;  // sub-folder with vocab.json and merges.txt
  int hidden_size = 0;
  // Which of the module's hidden-state outputs conditions the UNet (kHiddenStates).
  int hidden_state_output = 0;
  int pooled_size = 0;  // 0 when this encoder's pooled output is unused
  int64_t pad_id = 0;
  int max_length = 77;
};

// A text encoder module's hidden-state outputs, in order (scripts/vsp_export/trace.py): SDXL uses
// the penultimate layer's, SD 1.x/2.x the final layer-normed one.
inline const std::vector<std::string> kHiddenStates = {"penultimate", "final"};

// The families this vsp runs: what differs between them is data in the manifest (encoders, UNet
// inputs, prediction type, sizes), not code paths.
inline const std::vector<std::string> kFamilies = {"sd1", "sd2", "sdxl"};

// The largest width or height vsp renders: SDXL's latents at 8192x8192 already take minutes a step.
constexpr int kMaxImageSide = 8192;

// A DPT depth estimator for --control depth, and how its image processor prepares an image: a
// resize to height x width (PIL's two-pass resampling), a rescale, then (x - mean) / std.
struct DepthEstimatorInfo {
  std::string file;
  int height = 384, width = 384;
  std::string resample = "bilinear";  // or "bicubic"
  double rescale = 1.0 / 255;
  std::array<double, 3> mean{0.5, 0.5, 0.5}, std{0.5, 0.5, 0.5};
};

// "model folder X has no depth estimator; export one with ...": for --control depth without one.
std::string no_depth_estimator_message(const std::filesystem::path& folder);

// manifest.json of an exported model folder (scripts/export.py), parsed and validated.
struct Manifest {
  static constexpr int kFormatVersion = 2;

  std::filesystem::path folder;
  std::string family;       // one of kFamilies
  std::string source;       // the weights' origin: a checkpoint's file name or a hub id, never a path
  std::string source_hash;  // a single checkpoint's sha256, first 10 hex digits (A1111's "Model hash")
  std::string device;       // the device the modules were traced on
  std::string dtype;        // fp32 | fp16 | bf16
  std::string vae_dtype;
  int latent_channels = 4;
  int vae_scale_factor = 8;
  double scaling_factor = 0.13025;
  int size_multiple = 32;
  int default_size = 1024;
  bool force_zeros_for_empty_prompt = true;
  nlohmann::json scheduler;
  std::vector<TextEncoderInfo> text_encoders;  // one (SD 1.x/2.x) or two (SDXL), concatenated
  std::string unet_file;
  // The UNet's forward inputs by name, in order (Model::unet_arguments feeds them by name).
  std::vector<std::string> unet_inputs;
  // SDXL's added conditioning: the UNet also takes a pooled text embedding (from the last
  // encoder) and the size/crop time ids.
  bool added_conditioning = true;
  int cross_attention_dim = 2048;  // the encoders' hidden sizes, summed
  // The ControlNet residuals the UNet adds to its skip connections and mid block: (channels,
  // level) each, the tensor being [B, channels, latent_h >> level, latent_w >> level].
  std::vector<std::pair<int, int>> down_residuals;
  std::pair<int, int> mid_residual;
  // ControlNets exported beside the UNet: kind ("canny", "depth") -> module file.
  std::map<std::string, std::string> controlnets;
  // Their forward inputs by name, in order (Model::controlnet_arguments feeds them by name).
  std::vector<std::string> controlnet_inputs;
  std::optional<DepthEstimatorInfo> depth_estimator;  // exported with --depth-model
  std::string vae_encoder_file;
  std::string vae_decoder_file;
  // The VAE's sample_size: tiled decoding's tile, in pixels (older exports: default_size).
  int vae_tile_size = 1024;
  std::vector<AttentionLayer> attention_layers;
  int train_timesteps = 1000;  // the scheduler's num_train_timesteps: the most steps a run can take
  std::string exporter_torch;  // the PyTorch that traced the modules, for load errors
  std::string hash;            // FNV-1a of manifest.json's bytes, to tie outputs to an export

  // Throws vsp::Error naming the problem and the fix (missing folder, other format version,
  // missing field or file).
  static Manifest load(const std::filesystem::path& folder);
  // Throws vsp::Error when the export cannot run at width x height (not a multiple of
  // size_multiple, or past kMaxImageSide).
  void check_size(int width, int height) const;
  // Throws vsp::Error unless 1 <= steps <= train_timesteps.
  void check_steps(int steps) const;
};

}  // namespace vsp::models
