#pragma once
#include <torch/script.h>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "vsp/config/lora_spec.hpp"

namespace vsp::models {

struct Model;

// The tensors of a .safetensors file (F32, F16 or BF16) whose names are `wanted`, as float32 on the
// CPU; the others' names go to `skipped`, unread. Throws vsp::Error naming the file when it is
// missing, damaged or holds another dtype.
std::map<std::string, at::Tensor> read_safetensors(const std::filesystem::path& file,
                                                   const std::function<bool(const std::string&)>& wanted,
                                                   std::vector<std::string>& skipped);

// One LoRA layer, resolved: the weight it changes (component 0: the UNet, i + 1: text encoder i;
// the parameter's name in that TorchScript module) by scale * up @ down.
struct LoraDelta {
  size_t component = 0;
  std::string parameter;
  at::Tensor up, down;  // float32 [out, rank(, 1, 1)], [rank, in(, kh, kw)]
  double scale = 1.0;   // the spec's weight * alpha / rank (1 without an alpha)
};

// Every layer of the files, resolved against the model's parameters. Reads kohya's / A1111's
// format (lora_unet_*, lora_te_*, lora_te1_*, lora_te2_*; .lora_down/.lora_up/.alpha, on diffusers'
// module names or, for SDXL, on the original (SGM) UNet's) and diffusers' (unet.*, text_encoder.*,
// text_encoder_2.*; PEFT's .lora_A/.lora_B or .lora.down/.lora.up), linear and conv layers
// (LoCon). Layers that match nothing are reported in one warning line per file (the count and the
// first); throws vsp::UsageError when none of a file's layers match (another family's LoRA) or a
// shape disagrees with its weight's, vsp::Error when a file cannot be read.
std::vector<LoraDelta> resolve_loras(const Model& model, const std::vector<LoraSpec>& loras);

// LoRA layers merged into a module's weights (W += scale * up @ down, in float32 then the
// weight's dtype), with the weights as they were, to put back exactly.
class MergedLoras {
 public:
  void merge(torch::jit::Module& module, size_t component, const std::vector<LoraDelta>& deltas);
  void restore();  // every merged weight back to its bytes before merge
  void forget();   // the module is gone (released): nothing to restore

 private:
  std::vector<std::pair<at::Tensor, at::Tensor>> originals_;  // the live weight, its copy on the CPU
};

}  // namespace vsp::models
