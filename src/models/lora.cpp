// LoRA files merged into the loaded TorchScript weights. The traced modules keep diffusers' and
// transformers' module names under one prefix ("unet.", "encoder."), so a LoRA's layer names
// resolve against the modules' own parameter names; kohya's SDXL files name the original (SGM)
// UNet's modules, which sgm_name derives from diffusers' layout.
#include <torch/torch.h>

#include <optional>
#include <regex>
#include <set>

#include "vsp/error.hpp"
#include "vsp/io/log.hpp"
#include "vsp/models/lora.hpp"
#include "vsp/models/model.hpp"

namespace vsp::models {

namespace {

std::string underscored(std::string path) {
  std::replace(path.begin(), path.end(), '.', '_');
  return path;
}

// How many resnets the UNet's blocks of a kind have (diffusers: layers_per_block down, one more up).
int resnets_per_block(const std::vector<std::string>& paths, const std::string& kind) {
  int most = 0;
  const std::regex pattern(kind + R"(\.\d+\.resnets\.(\d+)\.)");
  std::smatch match;
  for (const auto& path : paths)
    if (std::regex_search(path, match, pattern)) most = std::max(most, std::stoi(match[1]) + 1);
  return most;
}

// The original (SGM / LDM) UNet's name of a diffusers UNet module, as kohya's SDXL LoRAs use it
// (the inverse of diffusers' _maybe_map_sgm_blocks_to_diffusers and _convert_unet_lora_key); "" when
// it has none. down_per_block: resnets per down block; blocks with attention come from the paths.
std::string sgm_name(const std::string& path, int down_per_block, const std::set<int>& up_with_attention) {
  static const std::vector<std::pair<std::string, std::string>> resnet_parts = {
      {"conv1", "in_layers.2"},          {"conv2", "out_layers.3"},
      {"time_emb_proj", "emb_layers.1"}, {"conv_shortcut", "skip_connection"},
      {"norm1", "in_layers.0"},          {"norm2", "out_layers.0"}};
  static const std::map<std::string, std::string> outside = {{"conv_in", "input_blocks.0.0"},
                                                             {"conv_out", "out.2"},
                                                             {"time_embedding.linear_1", "time_embed.0"},
                                                             {"time_embedding.linear_2", "time_embed.2"},
                                                             {"add_embedding.linear_1", "label_emb.0.0"},
                                                             {"add_embedding.linear_2", "label_emb.0.2"}};
  if (const auto found = outside.find(path); found != outside.end()) return found->second;
  const auto resnet_inner = [](const std::string& rest) -> std::string {
    for (const auto& [diffusers, sgm] : resnet_parts)
      if (rest == diffusers) return sgm;
    return "";
  };
  std::smatch m;
  static const std::regex down(R"(down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+))");
  static const std::regex downsample(R"(down_blocks\.(\d+)\.downsamplers\.0\.conv)");
  static const std::regex mid(R"(mid_block\.(resnets|attentions)\.(\d+)\.(.+))");
  static const std::regex up(R"(up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+))");
  static const std::regex upsample(R"(up_blocks\.(\d+)\.upsamplers\.0\.conv)");
  const auto inner = [&](const std::string& kind, const std::string& rest) {
    return kind == "attentions" ? rest : resnet_inner(rest);
  };
  const auto joined = [](int block, int part, const std::string& rest) {
    return rest.empty() ? std::string() : std::to_string(block) + "." + std::to_string(part) + "." + rest;
  };
  const int stride = down_per_block + 1;
  if (std::regex_match(path, m, down)) {
    const auto rest = inner(m[2], m[4]);
    const int block = 1 + std::stoi(m[1]) * stride + std::stoi(m[3]);
    const auto name = joined(block, m[2] == "attentions" ? 1 : 0, rest);
    return name.empty() ? "" : "input_blocks." + name;
  }
  if (std::regex_match(path, m, downsample))
    return "input_blocks." + std::to_string(1 + std::stoi(m[1]) * stride + down_per_block) + ".0.op";
  if (std::regex_match(path, m, mid)) {
    const auto rest = inner(m[1], m[3]);
    const int part = m[1] == "attentions" ? 1 : 2 * std::stoi(m[2]);
    return rest.empty() ? "" : "middle_block." + std::to_string(part) + "." + rest;
  }
  if (std::regex_match(path, m, up)) {
    const auto rest = inner(m[2], m[4]);
    const int block = std::stoi(m[1]) * stride + std::stoi(m[3]);
    const auto name = joined(block, m[2] == "attentions" ? 1 : 0, rest);
    return name.empty() ? "" : "output_blocks." + name;
  }
  if (std::regex_match(path, m, upsample)) {
    const int block = std::stoi(m[1]);
    return "output_blocks." + std::to_string(block * stride + down_per_block) + "." +
           (up_with_attention.count(block) ? "2" : "1") + ".conv";
  }
  return "";
}

struct Target {
  size_t component;
  std::string parameter;
  std::vector<int64_t> shape;
};

// Every name a LoRA layer may give a weight of the model, to that weight.
std::map<std::string, Target> lora_targets(const Model& model) {
  std::map<std::string, Target> targets;
  const auto add_weights = [&](torch::jit::Module& module, size_t component, const std::string& prefix,
                               const auto& names_of) {
    for (const auto& p : module.named_parameters()) {
      const auto& name = p.name;
      if (p.value.dim() != 2 && p.value.dim() != 4) continue;
      if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + 7 ||
          name.compare(name.size() - 7, 7, ".weight") != 0)
        continue;
      const auto path = name.substr(prefix.size(), name.size() - prefix.size() - 7);
      for (const auto& key : names_of(path)) targets[key] = {component, name, p.value.sizes().vec()};
    }
  };
  std::vector<std::string> unet_paths;
  for (const auto& p : model.unet.named_parameters()) unet_paths.push_back(p.name.substr(5));
  const int down_per_block = resnets_per_block(unet_paths, "down_blocks");
  std::set<int> up_with_attention;
  static const std::regex up_attention(R"(^up_blocks\.(\d+)\.attentions\.)");
  std::smatch m;
  for (const auto& path : unet_paths)
    if (std::regex_search(path, m, up_attention)) up_with_attention.insert(std::stoi(m[1]));
  add_weights(model.unet, 0, "unet.", [&](const std::string& path) {
    std::vector<std::string> names = {"unet." + path, "lora_unet_" + underscored(path)};
    if (const auto sgm = sgm_name(path, down_per_block, up_with_attention); !sgm.empty())
      names.push_back("lora_unet_" + underscored(sgm));
    return names;
  });
  const size_t encoders = model.manifest.text_encoders.size();
  for (size_t i = 0; i < encoders; ++i) {
    const std::string diffusers = i == 0 ? "text_encoder." : "text_encoder_" + std::to_string(i + 1) + ".";
    const std::string kohya = encoders == 1 ? "lora_te_" : "lora_te" + std::to_string(i + 1) + "_";
    add_weights(model.text_encoder(i), i + 1, "encoder.", [&](const std::string& path) {
      std::vector<std::string> names{diffusers + path, kohya + underscored(path)};
      if (i == 0 && encoders > 1) names.push_back("lora_te_" + underscored(path));  // as diffusers reads it
      return names;
    });
  }
  return targets;
}

struct LayerFactors {
  at::Tensor up, down, alpha;
};

// What a LoRA key holds: kohya's .lora_down/.lora_up/.alpha, PEFT's .lora_A/.lora_B, older
// diffusers' .lora.down/.lora.up. The suffix's length and part (0 down, 1 up, 2 alpha), or none
// for other kinds (LoHa, LoKr, DoRA's scales, a checkpoint's weights).
std::optional<std::pair<size_t, int>> lora_part(const std::string& key) {
  static const std::vector<std::pair<std::string, int>> suffixes = {
      {".lora_down.weight", 0}, {".lora_up.weight", 1}, {".lora_A.weight", 0}, {".lora_B.weight", 1},
      {".lora.down.weight", 0}, {".lora.up.weight", 1}, {".alpha", 2}};
  for (const auto& [suffix, part] : suffixes)
    if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0)
      return std::make_pair(suffix.size(), part);
  return std::nullopt;
}

// The file's LoRA layers by name, reading only their tensors; other keys go to `unknown`.
std::map<std::string, LayerFactors> read_layers(const std::filesystem::path& file, std::vector<std::string>& unknown) {
  const auto tensors = read_safetensors(
      file, [](const std::string& key) { return lora_part(key).has_value(); }, unknown);
  std::map<std::string, LayerFactors> layers;
  for (const auto& [key, tensor] : tensors) {
    const auto [length, part] = *lora_part(key);
    auto& layer = layers[key.substr(0, key.size() - length)];
    (part == 0 ? layer.down : part == 1 ? layer.up : layer.alpha) = tensor;
  }
  return layers;
}

}  // namespace

std::vector<LoraDelta> resolve_loras(const Model& model, const std::vector<LoraSpec>& loras) {
  const auto targets = lora_targets(model);
  std::vector<LoraDelta> deltas;
  for (const auto& spec : loras) {
    const auto name = spec.file.filename().string();
    std::vector<std::string> unmatched;
    const auto layers = read_layers(spec.file, unmatched);
    size_t matched = 0;
    for (const auto& [layer_name, layer] : layers) {
      const auto target = targets.find(layer_name);
      if (target == targets.end() || !layer.up.defined() || !layer.down.defined()) {
        unmatched.push_back(layer_name);
        continue;
      }
      const auto& shape = target->second.shape;
      if (layer.down.dim() < 2 || layer.up.dim() < 2 || layer.down.size(0) == 0 ||
          (layer.alpha.defined() && layer.alpha.numel() != 1))
        throw UsageError("LoRA " + name + ": layer " + layer_name +
                         " is damaged (its factors are not matrices of a rank above 0, or its alpha not one number)"
                         "; download it again");
      const int64_t rank = layer.down.size(0);
      const auto up = layer.up.flatten(1), down = layer.down.flatten(1);
      int64_t weight_in = 1;
      for (size_t d = 1; d < shape.size(); ++d) weight_in *= shape[d];
      if (up.size(1) != rank || up.size(0) != shape[0] || down.size(1) != weight_in)
        throw UsageError("LoRA " + name + ": layer " + layer_name + " does not fit this model's weight (" +
                         std::to_string(up.size(0)) + "x" + std::to_string(down.size(1)) + " against " +
                         std::to_string(shape[0]) + "x" + std::to_string(weight_in) +
                         "); the LoRA was trained for another model");
      const double alpha = layer.alpha.defined() ? layer.alpha.item<double>() : static_cast<double>(rank);
      deltas.push_back({target->second.component, target->second.parameter, up, down,
                        spec.weight * alpha / static_cast<double>(rank)});
      ++matched;
    }
    if (matched == 0)
      throw UsageError("LoRA " + name + ": none of its " + std::to_string(layers.size()) +
                       " layers names a layer of this " + model.manifest.family +
                       " model (first: " + (unmatched.empty() ? std::string("none") : unmatched.front()) +
                       "); use a LoRA made for " + model.manifest.family);
    if (!unmatched.empty())
      log::warn("LoRA " + name + ": " + std::to_string(unmatched.size()) +
                " of its entries match no layer of this model and are skipped (first: " + unmatched.front() + ")");
  }
  return deltas;
}

void MergedLoras::merge(torch::jit::Module& module, size_t component, const std::vector<LoraDelta>& deltas) {
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> parameters;
  for (const auto& p : module.named_parameters()) parameters.emplace(p.name, p.value);
  std::set<const void*> kept;
  for (const auto& [weight, original] : originals_) kept.insert(weight.data_ptr());
  for (const auto& delta : deltas) {
    if (delta.component != component) continue;
    auto weight = parameters.at(delta.parameter);
    if (kept.insert(weight.data_ptr()).second) originals_.emplace_back(weight, weight.to(torch::kCPU).clone());
    const auto change = torch::matmul(delta.up, delta.down).reshape(weight.sizes()) * delta.scale;
    weight.copy_(weight.to(torch::kFloat) + change.to(weight.device()));
  }
}

void MergedLoras::restore() {
  torch::NoGradGuard no_grad;
  for (auto& [weight, original] : originals_) weight.copy_(original);
  originals_.clear();
}

void MergedLoras::forget() { originals_.clear(); }

}  // namespace vsp::models
