#pragma once
#include <torch/script.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "vsp/config/manifest.hpp"
#include "vsp/models/lora.hpp"
#include "vsp/text/clip_tokenizer.hpp"

namespace vsp::models {

// One UNet call's inputs by name (see Model::unet_arguments); text_embeds and time_ids only for a
// UNet with added conditioning. ControlNet residuals are optional: none means zeros.
struct UNetInputs {
  at::Tensor sample, timestep, encoder_hidden_states, text_embeds, time_ids;
  std::vector<at::Tensor> down_residuals;
  at::Tensor mid_residual;
};

// An exported model folder, loaded once per process: manifest, tokenizers and TorchScript modules.
struct Model {
  Manifest manifest;
  std::vector<text::ClipTokenizer> tokenizers;  // one per text encoder
  // mutable: running a TorchScript module is not const, but it does not change the model.
  mutable torch::jit::Module unet;
  mutable torch::jit::Module vae_decoder;
  c10::Device device = c10::kCPU;
  c10::ScalarType dtype = c10::kFloat;  // UNet and text encoders
  c10::ScalarType vae_dtype = c10::kFloat;

  // Told which modules load now (their files), as `done` of `total` parts of the load.
  using LoadProgress = std::function<void(const std::string& modules, int done, int total)>;
  // device: "auto" (the export's device) or "cpu" / "cuda" / "cuda:N". Throws vsp::Error.
  static std::shared_ptr<Model> load(const std::filesystem::path& folder, const std::string& device = "auto",
                                     const LoadProgress& progress = {});

  // The inputs in the order the manifest's unet.inputs lists them: the one place that knows it.
  std::vector<c10::IValue> unet_arguments(const UNetInputs& inputs) const;
  // A ControlNet's: the UNet's inputs (without residuals) and the control image as controlnet_cond,
  // in the order the manifest's controlnets[].inputs lists them.
  std::vector<c10::IValue> controlnet_arguments(const UNetInputs& inputs, const at::Tensor& control_image) const;

  // Loaded at the first call: only image inputs (a style reference) need the VAE encoder.
  torch::jit::Module& vae_encoder() const;
  // The exported ControlNet of a kind ("canny", "depth"), loaded at its first use. Throws
  // vsp::Error saying how to export one when the folder has none.
  torch::jit::Module& controlnet(const std::string& kind) const;
  // The exported depth estimator (manifest.depth_estimator), loaded at its first use. Throws
  // vsp::Error saying how to export one when the folder has none.
  torch::jit::Module& depth_estimator() const;

  // The text encoders in the manifest's order (SDXL: 0 CLIP-L, 1 CLIP-G), loaded with the model and
  // reloaded after a release.
  torch::jit::Module& text_encoder(size_t index) const;
  // A process that runs one job sets this: once its prompts are encoded the pipeline calls
  // text_encoding_done(), which frees the encoders for the denoising loop and the VAE (1.3 GB on SDXL).
  bool release_text_encoders_after_use = false;
  void text_encoding_done() const;

  // Merges these LoRAs into the UNet's and the text encoders' weights, after putting back the
  // weights of the LoRAs merged before: each job gets exactly the weights its own list gives (none:
  // the export's). The same list again changes nothing. Throws resolve_loras' errors, with the
  // weights as the export's.
  void set_loras(const std::vector<LoraSpec>& loras);

 private:
  std::filesystem::path folder_;
  mutable std::once_flag vae_encoder_loaded_;
  mutable torch::jit::Module vae_encoder_;
  mutable std::mutex controlnets_mutex_;
  mutable std::map<std::string, torch::jit::Module> controlnets_;
  mutable std::optional<torch::jit::Module> depth_estimator_;  // guarded by controlnets_mutex_
  mutable std::mutex text_encoders_mutex_;
  mutable std::vector<torch::jit::Module> text_encoders_;  // empty once released
  std::vector<torch::jit::Module> load_text_encoders() const;
  std::vector<LoraSpec> loras_;
  std::vector<LoraDelta> lora_deltas_;
  MergedLoras unet_loras_;
  mutable MergedLoras text_encoder_loras_;  // re-merged when the encoders reload
};

c10::ScalarType parse_dtype(const std::string& name);

// The tokenizers of a model folder, one per text encoder (Model::load reads them too).
std::vector<text::ClipTokenizer> load_tokenizers(const Manifest& manifest);

// Hands the C heap's free memory back to the system (glibc keeps freed blocks for reuse), so that
// the next phase's peak does not stack on the last one's leftovers.
void release_free_memory();

}  // namespace vsp::models
