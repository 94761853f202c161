#include "vsp/models/model.hpp"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/cuda.h>

#include "vsp/error.hpp"
#include "vsp/io/log.hpp"

namespace vsp::models {
namespace {

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

torch::jit::Module load_module(const std::filesystem::path& path, const c10::Device& device) {
  try {
    auto module = torch::jit::load(path.string(), device);
    module.eval();
    return module;
  } catch (const c10::Error& e) {
    throw Error("cannot load " + path.string() + " (" + first_line(e.what_without_backtrace()) +
                "); the file is corrupt or from a newer PyTorch: re-export the model with scripts/export.py");
  }
}

// A file swapped for another module (a VAE saved as unet.pt) would fail deep inside the
// TorchScript interpreter at the first call; its forward's inputs tell at load.
void check_inputs(const torch::jit::Module& module, const std::filesystem::path& path, size_t inputs,
                  const char* what) {
  const auto method = module.find_method("forward");
  const size_t given = method ? method->function().getSchema().arguments().size() - 1 : 0;  // minus self
  if (given != inputs)
    throw Error(path.string() + " is not " + what + " export (its forward takes " + std::to_string(given) +
                " inputs, not " + std::to_string(inputs) + "); re-export the model with scripts/export.py");
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
    throw Error("--device " + name + " but no CUDA device is available (or this LibTorch has no CUDA); use --device cpu with a CPU export");
  // Tracing bakes the device into factory ops: a CPU export cannot run on CUDA, nor the reverse.
  if (device.type() != c10::Device(manifest.device).type())
    throw Error("model '" + manifest.folder.string() + "' was exported for " + manifest.device + ", not " + name +
                "; re-export it with scripts/export.py --device " + c10::DeviceTypeName(device.type(), true));
  return device;
}

}  // namespace

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "fp32") return c10::kFloat;
  if (name == "fp16") return c10::kHalf;
  if (name == "bf16") return c10::kBFloat16;
  throw Error("unknown dtype '" + name + "' in the manifest; expected fp32, fp16 or bf16");
}

std::shared_ptr<Model> Model::load(const std::filesystem::path& folder, const std::string& device) {
  // The profiling executor re-specialises the graphs over the first calls, which stalls the first
  // denoising steps for seconds and gains nothing on these graphs of large ops (docs/benchmarks.md).
  torch::jit::getProfilingMode() = false;
  torch::jit::setGraphExecutorOptimize(false);
  auto model = std::make_shared<Model>();
  model->manifest = Manifest::load(folder);
  const auto& m = model->manifest;
  model->device = resolve_device(device, m);
  model->dtype = parse_dtype(m.dtype);
  model->vae_dtype = parse_dtype(m.vae_dtype);
  const auto tokenizer = [&](const TextEncoderInfo& info) {
    return text::ClipTokenizer::from_files(folder / info.tokenizer / "vocab.json", folder / info.tokenizer / "merges.txt",
                                           info.pad_id);
  };
  model->tokenizer = tokenizer(m.text_encoders[0]);
  model->tokenizer_2 = tokenizer(m.text_encoders[1]);
  log::debug("loading " + folder.string() + " on " + model->device.str());
  model->text_encoder = load_module(folder / m.text_encoders[0].file, model->device);
  model->text_encoder_2 = load_module(folder / m.text_encoders[1].file, model->device);
  model->unet = load_module(folder / m.unet_file, model->device);
  model->vae_encoder = load_module(folder / m.vae_encoder_file, model->device);
  model->vae_decoder = load_module(folder / m.vae_decoder_file, model->device);
  check_inputs(model->text_encoder, folder / m.text_encoders[0].file, 1, "a text encoder");
  check_inputs(model->text_encoder_2, folder / m.text_encoders[1].file, 1, "a text encoder");
  check_inputs(model->unet, folder / m.unet_file, 5, "an SDXL UNet");
  check_inputs(model->vae_encoder, folder / m.vae_encoder_file, 1, "a VAE encoder");
  check_inputs(model->vae_decoder, folder / m.vae_decoder_file, 1, "a VAE decoder");
  return model;
}

}  // namespace vsp::models
