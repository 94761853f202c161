// The .safetensors format: an 8-byte little-endian header length, a JSON header of
// name -> {dtype, shape, data_offsets}, then the raw little-endian tensor data.
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "vsp/error.hpp"
#include "vsp/models/lora.hpp"

namespace vsp::models {

namespace {

// Larger than any LoRA (full fine-tunes are not LoRAs); a header past it is damage.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

c10::ScalarType dtype_of(const std::string& name, const std::string& key, const std::filesystem::path& file) {
  if (name == "F32") return c10::kFloat;
  if (name == "F16") return c10::kHalf;
  if (name == "BF16") return c10::kBFloat16;
  throw Error(file.string() + ": tensor '" + key + "' is " + name +
              ", not F32, F16 or BF16; convert the LoRA to one of those");
}

}  // namespace

std::map<std::string, at::Tensor> read_safetensors(const std::filesystem::path& file,
                                                   const std::function<bool(const std::string&)>& wanted,
                                                   std::vector<std::string>& skipped) {
  const auto damaged = [&](const std::string& why) {
    return Error(file.string() + " is not a readable .safetensors file (" + why + "); download it again");
  };
  std::ifstream in(file, std::ios::binary);
  if (!in || std::filesystem::is_directory(file))
    throw Error("cannot read " + file.string() + "; check the path (a LoRA is a .safetensors file)");
  const auto size = static_cast<uint64_t>(std::filesystem::file_size(file));
  uint8_t length_bytes[8] = {};
  if (!in.read(reinterpret_cast<char*>(length_bytes), 8)) throw damaged("shorter than its header");
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = header_length << 8 | length_bytes[i];
  if (header_length > kMaxHeaderBytes || 8 + header_length > size) throw damaged("its header length is wrong");
  std::string header_text(header_length, '\0');
  if (!in.read(header_text.data(), static_cast<std::streamsize>(header_length))) throw damaged("truncated header");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception&) {
    throw damaged("its header is not JSON");
  }
  if (!header.is_object()) throw damaged("its header is not a JSON object");
  const uint64_t data_size = size - 8 - header_length;
  std::map<std::string, at::Tensor> tensors;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") continue;
    if (!wanted(key)) {
      skipped.push_back(key);
      continue;
    }
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw damaged("entry '" + key + "' lacks dtype, shape or data_offsets");
    c10::ScalarType dtype;
    std::vector<int64_t> shape;
    std::vector<uint64_t> offsets;
    try {
      dtype = dtype_of(entry["dtype"].get<std::string>(), key, file);
      shape = entry["shape"].get<std::vector<int64_t>>();
      offsets = entry["data_offsets"].get<std::vector<uint64_t>>();
    } catch (const nlohmann::json::exception&) {
      throw damaged("entry '" + key + "' has fields of the wrong type");
    }
    if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_size)
      throw damaged("entry '" + key + "' has offsets outside the file");
    // The element count, bounded by the bytes the entry has (so no product can overflow).
    uint64_t count = 1;
    const uint64_t most = (offsets[1] - offsets[0]) / c10::elementSize(dtype);
    for (auto d : shape) {
      if (d < 0 || (d > 0 && count > most / static_cast<uint64_t>(d)))
        throw damaged("entry '" + key + "' has a shape that does not fit its bytes");
      count *= static_cast<uint64_t>(d);
    }
    if (count * c10::elementSize(dtype) != offsets[1] - offsets[0])
      throw damaged("entry '" + key + "' has offsets that do not fit its shape");

    auto tensor = torch::empty(shape, torch::TensorOptions().dtype(dtype));
    in.seekg(static_cast<std::streamoff>(8 + header_length + offsets[0]));
    if (!in.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(offsets[1] - offsets[0])))
      throw damaged("its data is truncated");
    tensors.emplace(key, tensor.to(torch::kFloat));
  }
  return tensors;
}

}  // namespace vsp::models
