#include "vsp/models/manifest.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <iomanip>
#include <sstream>

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

// Reads the fields of one manifest object with messages that name manifest.json and the field;
// numbers are read exactly and within the range an export can have (vsp/values.hpp).
class Fields {
 public:
  Fields(const nlohmann::json& object, std::string prefix, const std::filesystem::path& path)
      : object_(object), prefix_(std::move(prefix)), path_(path) {}

  const nlohmann::json& get(const char* key) const {
    if (!object_.is_object() || !object_.contains(key)) fail(key, "is missing");
    return object_.at(key);
  }
  int64_t integer(const char* key, int64_t minimum, int64_t maximum) const {
    const auto v = values::integer_in(get(key), minimum, maximum);
    if (!v) fail(key, "must be an integer from " + std::to_string(minimum) + " to " + std::to_string(maximum));
    return *v;
  }
  int64_t integer_or(const char* key, int64_t fallback, int64_t minimum, int64_t maximum) const {
    return object_.is_object() && object_.contains(key) ? integer(key, minimum, maximum) : fallback;
  }
  double number(const char* key, double minimum, double maximum) const {
    const auto v = values::number_in(get(key), minimum, maximum);
    if (!v) fail(key, "must be a number from " + std::to_string(minimum) + " to " + std::to_string(maximum));
    return *v;
  }
  std::string text(const char* key) const {
    const auto& value = get(key);
    if (!value.is_string() || !values::valid_utf8(value.get<std::string>())) fail(key, "must be a string");
    return value.get<std::string>();
  }
  // A file name inside the model folder: no folders, so a manifest cannot point outside it.
  std::string file(const char* key) const {
    const auto name = text(key);
    const std::filesystem::path p(name);
    if (name.empty() || p.is_absolute() || p.lexically_normal().string().rfind("..", 0) == 0)
      fail(key, "must name a file inside the model folder");
    return name;
  }
  bool flag(const char* key) const {
    if (!get(key).is_boolean()) fail(key, "must be true or false");
    return get(key).get<bool>();
  }
  const nlohmann::json& object(const char* key) const {
    if (!get(key).is_object()) fail(key, "must be an object");
    return get(key);
  }
  const nlohmann::json& list(const char* key) const {
    if (!get(key).is_array()) fail(key, "must be a list");
    return get(key);
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(path_.string() + ": field '" + prefix_ + key + "' " + what +
                "; re-export the model with scripts/export.py");
  }

 private:
  const nlohmann::json& object_;
  std::string prefix_;
  const std::filesystem::path& path_;
};

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
    throw Error(std::string(e.what()) + "; re-export the model with scripts/export.py");
  }
  if (!json.is_object() || json.value("format", nlohmann::json()) != "vsp-model")
    throw Error(path.string() + " is not a vsp model manifest; " + export_hint(folder));
  const int64_t version = Fields(json, "", path).integer("format_version", 0, INT32_MAX);
  if (version != kFormatVersion)
    throw Error(path.string() + " has format_version " + std::to_string(version) + " but this vsp reads version " +
                std::to_string(kFormatVersion) + "; re-export the model with this vsp's scripts/export.py");

  Manifest m;
  m.folder = folder;
  m.hash = fnv1a(bytes.str());
  const Fields top(json, "", path);
  m.family = top.text("family");
  if (std::find(kFamilies.begin(), kFamilies.end(), m.family) == kFamilies.end())
    top.fail("family", "is '" + m.family + "', which this vsp does not run (it runs sd1, sd2 and sdxl exports)");
  if (json.contains("exporter")) m.exporter_torch = Fields(top.object("exporter"), "exporter.", path).text("torch");
  m.source = json.contains("source") ? top.text("source") : "";
  m.device = top.text("device");
  m.dtype = top.text("dtype");
  m.vae_dtype = top.text("vae_dtype");
  m.latent_channels = static_cast<int>(top.integer("latent_channels", 1, 64));
  m.vae_scale_factor = static_cast<int>(top.integer("vae_scale_factor", 1, 64));
  m.scaling_factor = top.number("scaling_factor", 1e-6, 1e6);
  m.size_multiple = static_cast<int>(top.integer("size_multiple", 1, 1024));
  if (m.size_multiple % m.vae_scale_factor != 0)
    top.fail("size_multiple", "must be a multiple of vae_scale_factor (" + std::to_string(m.vae_scale_factor) + ")");
  m.default_size = static_cast<int>(top.integer("default_size", m.size_multiple, kMaxImageSide));
  if (m.default_size % m.size_multiple != 0) top.fail("default_size", "must be a multiple of size_multiple");
  m.force_zeros_for_empty_prompt = top.flag("force_zeros_for_empty_prompt");
  m.scheduler = top.object("scheduler");
  m.train_timesteps =
      static_cast<int>(Fields(m.scheduler, "scheduler.", path).integer_or("num_train_timesteps", 1000, 2, 100000));
  for (const auto& e : top.list("text_encoders")) {
    const Fields encoder(e, "text_encoders[].", path);
    TextEncoderInfo info;
    info.file = encoder.file("file");
    info.tokenizer = encoder.file("tokenizer");
    info.hidden_size = static_cast<int>(encoder.integer("hidden_size", 1, kMaxDimension));
    const auto state = std::find(kHiddenStates.begin(), kHiddenStates.end(), encoder.text("hidden_state"));
    if (state == kHiddenStates.end()) encoder.fail("hidden_state", "must be \"penultimate\" or \"final\"");
    info.hidden_state_output = static_cast<int>(state - kHiddenStates.begin());
    info.pooled_size = static_cast<int>(encoder.integer_or("pooled_size", 0, 0, kMaxDimension));
    info.pad_id = encoder.integer("pad_id", 0, INT32_MAX);
    info.max_length = static_cast<int>(encoder.integer_or("max_length", 77, 2, 4096));
    m.text_encoders.push_back(info);
  }
  if (m.text_encoders.empty() || m.text_encoders.size() > 2) top.fail("text_encoders", "must list one or two encoders");
  const Fields unet(top.object("unet"), "unet.", path);
  m.unet_file = unet.file("file");
  m.added_conditioning = unet.flag("added_conditioning");
  if (m.added_conditioning && m.text_encoders.back().pooled_size == 0)
    top.fail("text_encoders", "must end with an encoder that has a pooled_size when the UNet takes added conditioning");
  for (const auto& input : unet.list("inputs")) {
    if (!input.is_string()) unet.fail("inputs", "must be a list of input names");
    m.unet_inputs.push_back(input.get<std::string>());
  }
  std::vector<std::string> inputs = {"sample", "timestep", "encoder_hidden_states"};
  if (m.added_conditioning) inputs.insert(inputs.end(), {"text_embeds", "time_ids"});
  inputs.insert(inputs.end(), {"down_residuals", "mid_residual"});
  if (m.unet_inputs != inputs) {
    const std::string list = join(inputs);
    unet.fail("inputs", "must be (" + list + ") for a UNet " + (m.added_conditioning ? "with" : "without") +
                            " added conditioning");
  }
  const Fields residuals(unet.object("residuals"), "unet.residuals.", path);
  const auto residual = [&](const nlohmann::json& pair, const char* key) {
    if (!pair.is_array() || pair.size() != 2) residuals.fail(key, "must hold [channels, level] pairs");
    const auto channels = values::integer_in(pair[0], 1, kMaxDimension), level = values::integer_in(pair[1], 0, 16);
    if (!channels || !level) residuals.fail(key, "must hold [channels, level] pairs");
    return std::make_pair(static_cast<int>(*channels), static_cast<int>(*level));
  };
  for (const auto& pair : residuals.list("down")) m.down_residuals.push_back(residual(pair, "down"));
  m.mid_residual = residual(residuals.get("mid"), "mid");
  m.cross_attention_dim = static_cast<int>(unet.integer("cross_attention_dim", 1, kMaxDimension));
  int encoder_width = 0;
  for (const auto& encoder : m.text_encoders) encoder_width += encoder.hidden_size;
  if (encoder_width != m.cross_attention_dim)
    unet.fail("cross_attention_dim", "is " + std::to_string(m.cross_attention_dim) + " but the text encoders give " +
                                         std::to_string(encoder_width) + " values per token");
  const Fields vae(top.object("vae"), "vae.", path);
  m.vae_encoder_file = vae.file("encoder");
  m.vae_decoder_file = vae.file("decoder");
  m.vae_tile_size = static_cast<int>(vae.integer_or("tile_size", m.default_size, m.vae_scale_factor, kMaxImageSide));
  if (m.vae_tile_size % m.vae_scale_factor != 0) vae.fail("tile_size", "must be a multiple of vae_scale_factor");
  for (const auto& row : top.list("attention_layers")) {
    const Fields fields(row, "attention_layers[].", path);
    AttentionLayer layer;
    layer.id = static_cast<int>(fields.integer("id", 0, INT32_MAX));
    layer.name = fields.text("name");
    const std::string kind = fields.text("kind");
    if (kind != "self" && kind != "cross") fields.fail("kind", "must be \"self\" or \"cross\"");
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
      const Fields controlnet(entry, "controlnets[].", path);
      m.controlnets[controlnet.text("kind")] = controlnet.file("file");
      if (!entry.contains("inputs")) continue;
      std::vector<std::string> inputs;
      for (const auto& input : controlnet.list("inputs")) {
        if (!input.is_string()) controlnet.fail("inputs", "must be a list of input names");
        inputs.push_back(input.get<std::string>());
      }
      if (inputs != expected || !m.added_conditioning)
        controlnet.fail("inputs", "must be (" + join(expected) + ") for an SDXL ControlNet");
    }
  }
  if (json.contains("depth_estimator")) {
    const Fields depth(top.object("depth_estimator"), "depth_estimator.", path);
    DepthEstimatorInfo info;
    info.file = depth.file("file");
    info.height = static_cast<int>(depth.integer("height", 1, kMaxDimension));
    info.width = static_cast<int>(depth.integer("width", 1, kMaxDimension));
    info.resample = depth.text("resample");
    if (info.resample != "bilinear" && info.resample != "bicubic")
      depth.fail("resample", "must be bilinear or bicubic");
    info.rescale = depth.number("rescale", 1e-6, 1.0);
    for (const char* key : {"mean", "std"}) {
      const auto& values = depth.list(key);
      if (values.size() != 3) depth.fail(key, "must list 3 numbers");
      for (size_t c = 0; c < 3; ++c) {
        const auto v = values::number_in(values[c], key == std::string("std") ? 1e-6 : -1e3, 1e3);
        if (!v) depth.fail(key, "must list 3 numbers (std above 0)");
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
      throw Error("model folder '" + folder.string() + "' lacks " + file +
                  "; re-export the model with scripts/export.py");
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
