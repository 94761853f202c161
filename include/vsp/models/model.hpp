#pragma once
#include <torch/script.h>

#include <filesystem>
#include <memory>
#include <string>

#include "vsp/models/manifest.hpp"
#include "vsp/text/clip_tokenizer.hpp"

namespace vsp::models {

// An exported model folder, loaded once per process: manifest, tokenizers and TorchScript modules.
struct Model {
  Manifest manifest;
  text::ClipTokenizer tokenizer;
  text::ClipTokenizer tokenizer_2;
  // mutable: running a TorchScript module is not const, but it does not change the model.
  mutable torch::jit::Module text_encoder;
  mutable torch::jit::Module text_encoder_2;
  mutable torch::jit::Module unet;
  mutable torch::jit::Module vae_encoder;
  mutable torch::jit::Module vae_decoder;
  c10::Device device = c10::kCPU;
  c10::ScalarType dtype = c10::kFloat;      // UNet and text encoders
  c10::ScalarType vae_dtype = c10::kFloat;

  // device: "auto" (the export's device) or "cpu" / "cuda" / "cuda:N". Throws vsp::Error.
  static std::shared_ptr<Model> load(const std::filesystem::path& folder, const std::string& device = "auto");
};

c10::ScalarType parse_dtype(const std::string& name);

}  // namespace vsp::models
