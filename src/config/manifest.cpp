#include "vsp/config/manifest.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "vsp/config/json_fields.hpp"
#include "vsp/config/parse_json.hpp"
#include "vsp/config/paths.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

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

const char* const kReexport = "; re-export the model with scripts/export.py";

// A file name inside the model folder: no folders, so a manifest cannot point outside it.
std::string file_field(const JsonFields& fields, const char* key) {
  const auto name = fields.text(key);
  const std::filesystem::path p(name);
  if (name.empty() || p.is_absolute() || p.lexically_normal().string().rfind("..", 0) == 0)
    fields.fail_field(key, "must name a file inside the model folder");
  return name;
}

// Bounds no real export comes near: they keep a damaged manifest from dividing by zero or asking
// for absurd allocations.
constexpr int64_t kMaxDimension = 1 << 16;

}  // namespace

Manifest Manifest::load(const std::filesystem::path& folder) {
  if (!is_folder(folder)) throw Error("model folder '" + folder.string() + "' not found; " + export_hint(folder));
  const auto path = folder / "manifest.json";
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("'" + folder.string() + "' has no manifest.json, so it is not a vsp model folder; " +
                export_hint(folder));
  std::stringstream bytes;
  bytes << in.rdbuf();
  nlohmann::json json;
  try {
    json = parse_json(bytes.str(), path.string());
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + kReexport);
  }
  if (!json.is_object() || json.value("format", nlohmann::json()) != "vsp-model")
    throw Error(path.string() + " is not a vsp model manifest; " + export_hint(folder));
  const int64_t version = JsonFields(json, path.string(), kReexport).integer("format_version", 0, INT32_MAX);
  if (version != kFormatVersion)
    throw Error(path.string() + " has format_version " + std::to_string(version) + " but this vsp reads version " +
                std::to_string(kFormatVersion) + "; re-export the model with this vsp's scripts/export.py");

  Manifest m;
  m.folder = folder;
  m.hash = fnv1a(bytes.str());
  const JsonFields top(json, path.string(), kReexport);
  m.family = top.text("family");
  if (std::find(kFamilies.begin(), kFamilies.end(), m.family) == kFamilies.end())
    top.fail_field("family", "is '" + m.family + "', which this vsp does not run (it runs sd1, sd2 and sdxl exports)");
  if (json.contains("exporter")) m.exporter_torch = top.nested("exporter").text("torch");
  m.source = top.text_or("source", "");
  m.source_hash = top.text_or("source_sha256_10", "");
  m.device = top.text("device");
  m.dtype = top.text("dtype");
  m.vae_dtype = top.text("vae_dtype");
  m.latent_channels = static_cast<int>(top.integer("latent_channels", 1, 64));
  m.vae_scale_factor = static_cast<int>(top.integer("vae_scale_factor", 1, 64));
  m.scaling_factor = top.number("scaling_factor", 1e-6, 1e6);
  m.size_multiple = static_cast<int>(top.integer("size_multiple", 1, 1024));
  if (m.size_multiple % m.vae_scale_factor != 0)
    top.fail_field("size_multiple",
                   "must be a multiple of vae_scale_factor (" + std::to_string(m.vae_scale_factor) + ")");
  m.default_size = static_cast<int>(top.integer("default_size", m.size_multiple, kMaxImageSide));
  if (m.default_size % m.size_multiple != 0) top.fail_field("default_size", "must be a multiple of size_multiple");
  m.force_zeros_for_empty_prompt = top.flag("force_zeros_for_empty_prompt");
  m.scheduler = top.object("scheduler");
  m.train_timesteps = static_cast<int>(top.nested("scheduler").integer_or("num_train_timesteps", 1000, 2, 100000));
  for (const auto& e : top.list("text_encoders")) {
    const JsonFields encoder(e, path.string(), kReexport, "text_encoders[].");
    TextEncoderInfo info;
    info.file = file_field(encoder, "file");
    info.tokenizer = file_field(encoder, "tokenizer");
    info.hidden_size = static_cast<int>(encoder.integer("hidden_size", 1, kMaxDimension));
    const auto state = std::find(kHiddenStates.begin(), kHiddenStates.end(), encoder.text("hidden_state"));
    if (state == kHiddenStates.end()) encoder.fail_field("hidden_state", "must be \"penultimate\" or \"final\"");
    info.hidden_state_output = static_cast<int>(state - kHiddenStates.begin());
    info.pooled_size = static_cast<int>(encoder.integer_or("pooled_size", 0, 0, kMaxDimension));
    info.pad_id = encoder.integer("pad_id", 0, INT32_MAX);
    info.max_length = static_cast<int>(encoder.integer_or("max_length", 77, 2, 4096));
    m.text_encoders.push_back(info);
  }
  if (m.text_encoders.empty() || m.text_encoders.size() > 2)
    top.fail_field("text_encoders", "must list one or two encoders");
  const auto unet = top.nested("unet");
  m.unet_file = file_field(unet, "file");
  m.added_conditioning = unet.flag("added_conditioning");
  if (m.added_conditioning && m.text_encoders.back().pooled_size == 0)
    top.fail_field("text_encoders",
                   "must end with an encoder that has a pooled_size when the UNet takes added conditioning");
  m.unet_inputs = unet.texts("inputs");
  std::vector<std::string> inputs = {"sample", "timestep", "encoder_hidden_states"};
  if (m.added_conditioning) inputs.insert(inputs.end(), {"text_embeds", "time_ids"});
  inputs.insert(inputs.end(), {"down_residuals", "mid_residual"});
  if (m.unet_inputs != inputs) {
    const std::string list = join(inputs);
    unet.fail_field("inputs", "must be (" + list + ") for a UNet " + (m.added_conditioning ? "with" : "without") +
                                  " added conditioning");
  }
  const auto residuals = unet.nested("residuals");
  const auto residual = [&](const nlohmann::json& pair, const char* key) {
    if (!pair.is_array() || pair.size() != 2) residuals.fail_field(key, "must hold [channels, level] pairs");
    const auto channels = values::integer_in(pair[0], 1, kMaxDimension), level = values::integer_in(pair[1], 0, 16);
    if (!channels || !level) residuals.fail_field(key, "must hold [channels, level] pairs");
    return std::make_pair(static_cast<int>(*channels), static_cast<int>(*level));
  };
  for (const auto& pair : residuals.list("down")) m.down_residuals.push_back(residual(pair, "down"));
  m.mid_residual = residual(residuals.get("mid"), "mid");
  m.cross_attention_dim = static_cast<int>(unet.integer("cross_attention_dim", 1, kMaxDimension));
  int encoder_width = 0;
  for (const auto& encoder : m.text_encoders) encoder_width += encoder.hidden_size;
  if (encoder_width != m.cross_attention_dim)
    unet.fail_field("cross_attention_dim", "is " + std::to_string(m.cross_attention_dim) +
                                               " but the text encoders give " + std::to_string(encoder_width) +
                                               " values per token");
  const auto vae = top.nested("vae");
  m.vae_encoder_file = file_field(vae, "encoder");
  m.vae_decoder_file = file_field(vae, "decoder");
  m.vae_tile_size = static_cast<int>(vae.integer_or("tile_size", m.default_size, m.vae_scale_factor, kMaxImageSide));
  if (m.vae_tile_size % m.vae_scale_factor != 0) vae.fail_field("tile_size", "must be a multiple of vae_scale_factor");
  for (const auto& row : top.list("attention_layers")) {
    const JsonFields fields(row, path.string(), kReexport, "attention_layers[].");
    AttentionLayer layer;
    layer.id = static_cast<int>(fields.integer("id", 0, INT32_MAX));
    layer.name = fields.text("name");
    const std::string kind = fields.text("kind");
    if (kind != "self" && kind != "cross") fields.fail_field("kind", "must be \"self\" or \"cross\"");
    layer.self = kind == "self";
    layer.block = fields.text("block");
    layer.attention = fields.text("attention");
    layer.level = static_cast<int>(fields.integer("level", 0, 16));
    layer.heads = static_cast<int>(fields.integer("heads", 1, 1024));
    layer.head_dim = static_cast<int>(fields.integer("head_dim", 1, 4096));
    if (layer.id != static_cast<int>(m.attention_layers.size()))
      throw Error(path.string() + ": attention_layers must be listed by id in execution order; re-export the model");
    m.attention_layers.push_back(layer);
  }
  if (json.contains("controlnets")) {
    // SDXL's ControlNets take the UNet's inputs and the control image. Exports from before the
    // names were written take them in this order too.
    const std::vector<std::string> expected = {"sample",      "timestep", "encoder_hidden_states",
                                               "text_embeds", "time_ids", "controlnet_cond"};
    m.controlnet_inputs = expected;
    for (const auto& entry : top.list("controlnets")) {
      const JsonFields controlnet(entry, path.string(), kReexport, "controlnets[].");
      m.controlnets[controlnet.text("kind")] = file_field(controlnet, "file");
      if (!entry.contains("inputs")) continue;
      if (controlnet.texts("inputs") != expected || !m.added_conditioning)
        controlnet.fail_field("inputs", "must be (" + join(expected) + ") for an SDXL ControlNet");
    }
  }
  if (json.contains("depth_estimator")) {
    const auto depth = top.nested("depth_estimator");
    DepthEstimatorInfo info;
    info.file = file_field(depth, "file");
    info.height = static_cast<int>(depth.integer("height", 1, kMaxDimension));
    info.width = static_cast<int>(depth.integer("width", 1, kMaxDimension));
    info.resample = depth.text("resample");
    if (info.resample != "bilinear" && info.resample != "bicubic")
      depth.fail_field("resample", "must be bilinear or bicubic");
    info.rescale = depth.number("rescale", 1e-6, 1.0);
    for (const char* key : {"mean", "std"}) {
      const auto& values = depth.list(key);
      if (values.size() != 3) depth.fail_field(key, "must list 3 numbers");
      for (size_t c = 0; c < 3; ++c) {
        const auto v = values::number_in(values[c], key == std::string("std") ? 1e-6 : -1e3, 1e3);
        if (!v) depth.fail_field(key, "must list 3 numbers (std above 0)");
        (key == std::string("std") ? info.std : info.mean)[c] = *v;
      }
    }
    m.depth_estimator = info;
  }
  std::vector<std::string> files = {m.unet_file, m.vae_encoder_file, m.vae_decoder_file};
  for (const auto& [kind, file] : m.controlnets) files.push_back(file);
  if (m.depth_estimator) files.push_back(m.depth_estimator->file);
  for (const auto& encoder : m.text_encoders) files.push_back(encoder.file);
  for (const auto& file : files) {
    if (!std::filesystem::is_regular_file(folder / file))
      throw Error("model folder '" + folder.string() + "' lacks " + file + kReexport);
  }
  return m;
}

std::string no_depth_estimator_message(const std::filesystem::path& folder) {
  return "model folder '" + folder.string() +
         "' has no depth estimator for --control depth; export one with "
         "scripts/export.py --model ... --out " +
         folder.string() + " --depth-model Intel/dpt-hybrid-midas, or give a ready depth map with --control depth-map";
}

void Manifest::check_size(int width, int height) const {
  const int64_t q = size_multiple;
  if (width <= 0 || height <= 0 || width % q != 0 || height % q != 0) {
    const auto round = [q](int64_t x) { return std::clamp((x + q / 2) / q * q, q, kMaxImageSide / q * q); };
    throw UsageError("size " + std::to_string(width) + "x" + std::to_string(height) +
                     " is not supported by this model: width and height must be positive multiples of " +
                     std::to_string(q) + " (try --width " + std::to_string(round(width)) + " --height " +
                     std::to_string(round(height)) + ")");
  }
  if (width > kMaxImageSide || height > kMaxImageSide)
    throw UsageError("size " + std::to_string(width) + "x" + std::to_string(height) + " is larger than vsp renders (" +
                     std::to_string(kMaxImageSide) +
                     " pixels a side); choose a smaller --width/--height and upscale after");
}

void Manifest::check_steps(int steps) const {
  if (steps < 1 || steps > train_timesteps)
    throw UsageError(std::to_string(steps) + " steps: the model was trained on " + std::to_string(train_timesteps) +
                     " timesteps, so steps must be from 1 to " + std::to_string(train_timesteps) + "; lower --steps");
}

}  // namespace vsp::models
