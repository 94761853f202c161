#include "vsp/models/model.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>

#include <future>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "vsp/error.hpp"
#include "vsp/io/log.hpp"

namespace vsp::models {
namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

torch::jit::Module load_module(const std::filesystem::path& path, const Manifest& manifest, const c10::Device& device) {
  try {
    auto module = torch::jit::load(path.string(), device);
    module.eval();
    // vsp never trains weights: only null-text's embeddings take gradients, and a backward pass
    // through the UNet must not accumulate any for its parameters.
    for (auto parameter : module.parameters()) parameter.set_requires_grad(false);
    return module;
  } catch (const c10::Error& e) {
    const std::string exported =
        manifest.exporter_torch.empty() ? "" : " (it was exported with PyTorch " + manifest.exporter_torch + ")";
    throw Error("cannot load " + path.string() + " (" + first_line(e.what_without_backtrace()) +
                "); the file is corrupt or from a newer PyTorch than this vsp's LibTorch" + exported +
                ": re-export the model with scripts/export.py");
  }
}

// A file swapped for another module (a VAE saved as unet.pt) would fail deep inside the
// TorchScript interpreter at the first call; its forward's inputs tell at load.
void check_inputs(const torch::jit::Module& module, const std::filesystem::path& path, size_t inputs,
                  const std::string& what) {
  const auto method = module.find_method("forward");
  const size_t given = method ? method->function().getSchema().arguments().size() - 1 : 0;  // minus self
  if (given != inputs)
    throw Error(path.string() + " is not " + what + " (its forward takes " + std::to_string(given) + " inputs, not " +
                std::to_string(inputs) + "); re-export the model with scripts/export.py");
}

c10::Device resolve_device(const std::string& request, const Manifest& manifest) {
  const std::string name = request == "auto" ? manifest.device : request;
  c10::Device device = c10::kCPU;
  try {
    device = c10::Device(name);
  } catch (const c10::Error&) {
    throw Error("unknown device '" + name + "'; use cpu, cuda or cuda:N");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw Error("--device " + name +
                " but no CUDA device is available (or this LibTorch has no CUDA); use --device cpu with a CPU export");
  // Tracing bakes the device into factory ops: a CPU export cannot run on CUDA, nor the reverse.
  if (device.type() != c10::Device(manifest.device).type())
    throw Error("model '" + manifest.folder.string() + "' was exported for " + manifest.device + ", not " + name +
                "; re-export it with scripts/export.py --device " + c10::DeviceTypeName(device.type(), true));
  return device;
}

// Compiles forward's execution plan for inputs of these dtypes and ranks without running it. The
// legacy executor keys plans by dtype, device and rank, not size, so the first real call skips
// the seconds of graph passes on the UNet's ten thousand nodes.
void prepare_plan(torch::jit::Module& module, const std::vector<c10::IValue>& example) {
  torch::InferenceMode guard;  // as every call: grad mode is part of the plan's key
  torch::jit::Stack stack{module._ivalue()};
  stack.insert(stack.end(), example.begin(), example.end());
  torch::jit::toGraphFunction(module.get_method("forward").function()).get_executor().getPlanFor(stack);
}

// The VAE is all convolutions, which run faster in channels-last layout: on the CPU its decode
// at 512x512 takes 20% less time and 23% less memory (docs/benchmarks.md). Its inputs follow.
void use_channels_last(torch::jit::Module& module) {
  for (auto parameter : module.parameters())
    if (parameter.dim() == 4) parameter.set_data(parameter.contiguous(at::MemoryFormat::ChannelsLast));
}

}  // namespace

std::vector<text::ClipTokenizer> load_tokenizers(const Manifest& manifest) {
  std::vector<text::ClipTokenizer> tokenizers;
  for (const auto& info : manifest.text_encoders) {
    const auto folder = manifest.folder / info.tokenizer;
    tokenizers.push_back(text::ClipTokenizer::from_files(folder / "vocab.json", folder / "merges.txt", info.pad_id));
  }
  return tokenizers;
}

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32") return c10::kFloat;
  if (name == "fp16") return c10::kHalf;
  if (name == "bf16") return c10::kBFloat16;
  throw Error("unknown dtype '" + name + "' in the manifest; expected fp32, fp16 or bf16");
}

std::shared_ptr<Model> Model::load(const std::filesystem::path& folder, const std::string& device,
                                   const LoadProgress& progress) {
  // The legacy executor, optimised, without profiling: the profiling executor re-specialises the
  // graphs over the first calls (seconds of stalls), and an unoptimised graph keeps intermediate
  // tensors alive, 7x the UNet's activation memory at 512x512 (docs/benchmarks.md).
  torch::jit::getExecutorMode() = false;
  torch::jit::getProfilingMode() = false;
  auto model = std::make_shared<Model>();
  model->manifest = Manifest::load(folder);
  model->folder_ = folder;
  const auto& m = model->manifest;
  model->device = resolve_device(device, m);
  model->dtype = parse_dtype(m.dtype);
  model->vae_dtype = parse_dtype(m.vae_dtype);
  model->tokenizers = load_tokenizers(m);
  log::debug("loading " + folder.string() + " on " + model->device.str());
  // Reading a module and compiling its plan run on one core each: the UNet, the largest, loads on
  // a second thread while this one loads the rest.
  const auto example = [&](std::vector<int64_t> shape, c10::ScalarType dtype) {
    return torch::zeros(shape, torch::TensorOptions().dtype(dtype).device(model->device));
  };
  auto unet = std::async(std::launch::async, [&] {
    auto module = load_module(folder / m.unet_file, m, model->device);
    check_inputs(module, folder / m.unet_file, m.unet_inputs.size(), "the UNet that manifest.json describes");
    UNetInputs inputs{example({2, m.latent_channels, 8, 8}, model->dtype), example({}, c10::kFloat),
                      example({2, 77, m.cross_attention_dim}, model->dtype)};
    if (m.added_conditioning) {
      inputs.text_embeds = example({2, m.text_encoders.back().pooled_size}, model->dtype);
      inputs.time_ids = example({2, 6}, model->dtype);
    }
    prepare_plan(module, model->unet_arguments(inputs));
    return module;
  });
  const auto report = [&](const std::string& modules, int done) {
    if (progress) progress(modules, done, 3);
  };
  try {
    std::string encoders;
    for (const auto& info : m.text_encoders) encoders += (encoders.empty() ? "" : ", ") + info.file;
    report(encoders, 0);
    model->text_encoders_ = model->load_text_encoders();
    report(m.vae_decoder_file, 1);
    model->vae_decoder = load_module(folder / m.vae_decoder_file, m, model->device);
    check_inputs(model->vae_decoder, folder / m.vae_decoder_file, 1, "a VAE decoder export");
    use_channels_last(model->vae_decoder);
    prepare_plan(model->vae_decoder, {example({1, m.latent_channels, 8, 8}, model->vae_dtype)});
  } catch (...) {
    unet.wait();  // the thread reads the model folder: let it end before the error unwinds
    throw;
  }
  report(m.unet_file, 2);  // the largest, loading since the start
  model->unet = unet.get();
  report("", 3);
  return model;
}

std::vector<torch::jit::Module> Model::load_text_encoders() const {
  std::vector<torch::jit::Module> modules;
  for (const auto& info : manifest.text_encoders) {
    auto module = load_module(folder_ / info.file, manifest, device);
    check_inputs(module, folder_ / info.file, 1, "a text encoder export");
    prepare_plan(module, {torch::zeros({1, info.max_length}, torch::TensorOptions().dtype(c10::kLong).device(device))});
    modules.push_back(std::move(module));
  }
  return modules;
}

torch::jit::Module& Model::text_encoder(size_t index) const {
  std::lock_guard lock(text_encoders_mutex_);
  if (text_encoders_.empty()) {
    text_encoders_ = load_text_encoders();
    try {
      for (size_t i = 0; i < text_encoders_.size(); ++i)
        text_encoder_loras_.merge(text_encoders_[i], i + 1, lora_deltas_);
    } catch (...) {
      text_encoders_.clear();  // never half merged: the next use loads them again
      text_encoder_loras_.forget();
      throw;
    }
  }
  return text_encoders_.at(index);
}

void Model::set_loras(const std::vector<LoraSpec>& loras) {
  if (loras == loras_) return;
  const auto restore = [this] {
    unet_loras_.restore();
    std::lock_guard lock(text_encoders_mutex_);
    text_encoder_loras_.restore();
    lora_deltas_.clear();
  };
  restore();
  loras_.clear();
  if (loras.empty()) return;
  auto deltas = resolve_loras(*this, loras);
  try {
    unet_loras_.merge(unet, 0, deltas);
    std::lock_guard lock(text_encoders_mutex_);
    for (size_t i = 0; i < text_encoders_.size(); ++i) text_encoder_loras_.merge(text_encoders_[i], i + 1, deltas);
    lora_deltas_ = std::move(deltas);
  } catch (...) {
    restore();  // out of memory halfway: the export's weights, not half a merge
    throw;
  }
  loras_ = loras;
}

void Model::text_encoding_done() const {
  if (!release_text_encoders_after_use) return;
  std::lock_guard lock(text_encoders_mutex_);
  text_encoders_.clear();
  text_encoder_loras_.forget();
  release_free_memory();
}

void release_free_memory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

namespace {

// A tensor input by its name in the manifest; `module` names the caller in errors.
const at::Tensor& named_input(const UNetInputs& inputs, const std::string& name, const char* module) {
  const at::Tensor* input = name == "sample"                  ? &inputs.sample
                            : name == "timestep"              ? &inputs.timestep
                            : name == "encoder_hidden_states" ? &inputs.encoder_hidden_states
                            : name == "text_embeds"           ? &inputs.text_embeds
                            : name == "time_ids"              ? &inputs.time_ids
                                                              : nullptr;
  if (!input)
    throw Error(std::string("the ") + module + " asks for an input named '" + name +
                "' that this vsp cannot give; re-export the model");
  if (!input->defined()) throw std::logic_error(std::string(module) + " input '" + name + "' was not given");
  return *input;
}

}  // namespace

std::vector<c10::IValue> Model::unet_arguments(const UNetInputs& inputs) const {
  std::vector<c10::IValue> arguments;
  // Without a ControlNet the residuals are zeros, broadcast from one value: adding them changes
  // no bit and costs no memory.
  const auto zeros = [&](const std::pair<int, int>& shape) {
    const auto& x = inputs.sample;
    return at::zeros({}, x.options())
        .expand({x.size(0), shape.first, x.size(2) >> shape.second, x.size(3) >> shape.second});
  };
  for (const auto& name : manifest.unet_inputs) {
    if (name == "down_residuals") {
      std::vector<c10::IValue> residuals;
      for (size_t i = 0; i < manifest.down_residuals.size(); ++i)
        residuals.emplace_back(inputs.down_residuals.empty() ? zeros(manifest.down_residuals[i])
                                                             : inputs.down_residuals.at(i));
      arguments.emplace_back(c10::ivalue::Tuple::create(std::move(residuals)));
      continue;
    }
    if (name == "mid_residual") {
      arguments.emplace_back(inputs.mid_residual.defined() ? inputs.mid_residual : zeros(manifest.mid_residual));
      continue;
    }
    arguments.emplace_back(named_input(inputs, name, "UNet"));
  }
  return arguments;
}

std::vector<c10::IValue> Model::controlnet_arguments(const UNetInputs& inputs, const at::Tensor& control_image) const {
  std::vector<c10::IValue> arguments;
  for (const auto& name : manifest.controlnet_inputs)
    arguments.emplace_back(name == "controlnet_cond" ? control_image : named_input(inputs, name, "ControlNet"));
  return arguments;
}

torch::jit::Module& Model::controlnet(const std::string& kind) const {
  std::lock_guard lock(controlnets_mutex_);
  const auto loaded = controlnets_.find(kind);
  if (loaded != controlnets_.end()) return loaded->second;
  const auto file = manifest.controlnets.find(kind);
  if (file == manifest.controlnets.end())
    throw Error("model folder '" + folder_.string() + "' has no " + kind +
                " ControlNet; export one with scripts/export.py "
                "--model ... --out " +
                folder_.string() + " --controlnet " + kind + "=diffusers/controlnet-" + kind + "-sdxl-1.0");
  auto module = load_module(folder_ / file->second, manifest, device);
  check_inputs(module, folder_ / file->second, 6, "a ControlNet export");
  return controlnets_.emplace(kind, std::move(module)).first->second;
}

torch::jit::Module& Model::depth_estimator() const {
  std::lock_guard lock(controlnets_mutex_);
  if (depth_estimator_) return *depth_estimator_;
  if (!manifest.depth_estimator) throw Error(no_depth_estimator_message(folder_));
  const auto path = folder_ / manifest.depth_estimator->file;
  auto module = load_module(path, manifest, device);
  check_inputs(module, path, 1, "a depth estimator export");
  return depth_estimator_.emplace(std::move(module));
}

torch::jit::Module& Model::vae_encoder() const {
  std::call_once(vae_encoder_loaded_, [this] {
    vae_encoder_ = load_module(folder_ / manifest.vae_encoder_file, manifest, device);
    check_inputs(vae_encoder_, folder_ / manifest.vae_encoder_file, 1, "a VAE encoder export");
    use_channels_last(vae_encoder_);
  });
  return vae_encoder_;
}

}  // namespace vsp::models
