#include "vsp/models/manifest.hpp"

#include <fstream>
#include <iomanip>
#include <sstream>

#include "vsp/config/parse_json.hpp"
#include "vsp/error.hpp"

namespace vsp::models {
namespace {

std::string export_hint(const std::filesystem::path& folder) {
  return "export one with: scripts/export.py --model stabilityai/stable-diffusion-xl-base-1.0 --out " +
         folder.string() + " (or scripts/setup.sh --with-sdxl), or pass --model DIR";
}

std::string fnv1a(const std::string& bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  std::ostringstream out;
  out << std::hex << std::setw(16) << std::setfill('0') << hash;
  return out.str();
}

// Reads a required field with a message that names the manifest and the field.
template <typename T>
T field(const nlohmann::json& object, const char* key, const std::filesystem::path& path) {
  if (!object.contains(key))
    throw Error(path.string() + ": missing field '" + key + "'; re-export the model with scripts/export.py");
  try {
    return object.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(path.string() + ": field '" + key + "' has the wrong type; re-export the model with scripts/export.py");
  }
}

}  // namespace

Manifest Manifest::load(const std::filesystem::path& folder) {
  if (!std::filesystem::is_directory(folder))
    throw Error("model folder '" + folder.string() + "' not found; " + export_hint(folder));
  const auto path = folder / "manifest.json";
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("'" + folder.string() + "' has no manifest.json, so it is not a vsp model folder; " + export_hint(folder));
  std::stringstream bytes;
  bytes << in.rdbuf();
  nlohmann::json json;
  try {
    json = parse_json(bytes.str(), path.string());
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "; re-export the model with scripts/export.py");
  }
  if (json.value("format", "") != "vsp-model")
    throw Error(path.string() + " is not a vsp model manifest; " + export_hint(folder));
  const int version = field<int>(json, "format_version", path);
  if (version != kFormatVersion)
    throw Error(path.string() + " has format_version " + std::to_string(version) + " but this vsp reads version " +
                std::to_string(kFormatVersion) + "; re-export the model with this vsp's scripts/export.py");

  Manifest m;
  m.folder = folder;
  m.hash = fnv1a(bytes.str());
  m.family = field<std::string>(json, "family", path);
  m.source = json.value("source", "");
  m.device = field<std::string>(json, "device", path);
  m.dtype = field<std::string>(json, "dtype", path);
  m.vae_dtype = field<std::string>(json, "vae_dtype", path);
  m.latent_channels = field<int>(json, "latent_channels", path);
  m.vae_scale_factor = field<int>(json, "vae_scale_factor", path);
  m.scaling_factor = field<double>(json, "scaling_factor", path);
  m.size_multiple = field<int>(json, "size_multiple", path);
  m.default_size = field<int>(json, "default_size", path);
  m.force_zeros_for_empty_prompt = field<bool>(json, "force_zeros_for_empty_prompt", path);
  m.scheduler = field<nlohmann::json>(json, "scheduler", path);
  for (const auto& e : field<nlohmann::json>(json, "text_encoders", path)) {
    TextEncoderInfo info;
    info.file = field<std::string>(e, "file", path);
    info.tokenizer = field<std::string>(e, "tokenizer", path);
    info.hidden_size = field<int>(e, "hidden_size", path);
    info.pooled_size = e.value("pooled_size", 0);
    info.pad_id = field<int64_t>(e, "pad_id", path);
    info.max_length = e.value("max_length", 77);
    m.text_encoders.push_back(info);
  }
  if (m.text_encoders.size() != 2 || m.text_encoders[1].pooled_size == 0)
    throw Error(path.string() + ": an SDXL model needs two text encoders, the second with a pooled output; re-export it");
  const auto unet = field<nlohmann::json>(json, "unet", path);
  m.unet_file = field<std::string>(unet, "file", path);
  m.addition_time_embed_dim = field<int>(unet, "addition_time_embed_dim", path);
  m.cross_attention_dim = field<int>(unet, "cross_attention_dim", path);
  const auto vae = field<nlohmann::json>(json, "vae", path);
  m.vae_encoder_file = field<std::string>(vae, "encoder", path);
  m.vae_decoder_file = field<std::string>(vae, "decoder", path);
  for (const auto& row : field<nlohmann::json>(json, "attention_layers", path)) {
    AttentionLayer layer;
    layer.id = field<int>(row, "id", path);
    layer.name = field<std::string>(row, "name", path);
    layer.self = field<std::string>(row, "kind", path) == "self";
    layer.block = field<std::string>(row, "block", path);
    layer.attention = field<std::string>(row, "attention", path);
    layer.level = field<int>(row, "level", path);
    layer.heads = field<int>(row, "heads", path);
    layer.head_dim = field<int>(row, "head_dim", path);
    if (layer.id != static_cast<int>(m.attention_layers.size()))
      throw Error(path.string() + ": attention_layers must be listed by id in execution order; re-export the model");
    m.attention_layers.push_back(layer);
  }
  for (const auto& file : {m.unet_file, m.vae_encoder_file, m.vae_decoder_file, m.text_encoders[0].file,
                           m.text_encoders[1].file}) {
    if (!std::filesystem::is_regular_file(folder / file))
      throw Error("model folder '" + folder.string() + "' lacks " + file + "; re-export the model with scripts/export.py");
  }
  return m;
}

void Manifest::check_size(int width, int height) const {
  const int q = size_multiple;
  if (width <= 0 || height <= 0 || width % q != 0 || height % q != 0) {
    const auto round = [q](int x) { return std::max(q, (x + q / 2) / q * q); };
    throw Error("size " + std::to_string(width) + "x" + std::to_string(height) +
                " is not supported by this model: width and height must be positive multiples of " +
                std::to_string(q) + " (try --width " + std::to_string(round(width)) + " --height " +
                std::to_string(round(height)) + ")");
  }
}

}  // namespace vsp::models
