#include "vsp/config/lora_spec.hpp"

#include <cmath>

#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp::models {

LoraSpec parse_lora_spec(const std::string& text, const std::filesystem::path& base_folder) {
  LoraSpec spec;
  std::string file = text;
  const auto colon = text.rfind(':');
  if (colon != std::string::npos) {
    if (const auto weight = values::parse_decimal_number(text.substr(colon + 1))) {
      if (!std::isfinite(*weight) || std::abs(*weight) > 10)
        throw UsageError("--lora " + text + ": the weight must be a number from -10 to 10");
      spec.weight = *weight;
      file = text.substr(0, colon);
    }
  }
  if (file.empty()) throw UsageError("--lora takes FILE or FILE:WEIGHT, got '" + text + "'");
  const std::filesystem::path given = file;
  spec.file = given.is_absolute() ? given : base_folder / given;
  std::error_code error;
  if (!std::filesystem::is_regular_file(spec.file, error))
    throw Error("LoRA file " + spec.file.string() + " not found; check the path (--lora FILE[:WEIGHT])");
  return spec;
}

std::vector<LoraSpec> take_lora_tags(std::string& prompt, const std::filesystem::path& folder) {
  std::vector<LoraSpec> loras;
  for (size_t at; (at = prompt.find("<lora:")) != std::string::npos;) {
    const auto end = prompt.find('>', at);
    if (end == std::string::npos) throw UsageError("a <lora: tag in the prompt is not closed with '>'");
    const auto body = prompt.substr(at + 6, end - at - 6);  // NAME or NAME:WEIGHT
    LoraSpec spec;
    std::string name = body;
    if (const auto colon = body.find(':'); colon != std::string::npos) {
      name = body.substr(0, colon);
      const auto weight = values::parse_decimal_number(body.substr(colon + 1));
      if (!weight || std::abs(*weight) > 10)
        throw UsageError("<lora:" + body + ">: the weight must be a number from -10 to 10");
      spec.weight = *weight;
    }
    if (name.empty()) throw UsageError("<lora:" + body + "> names no LoRA; write <lora:NAME:WEIGHT>");
    spec.file = folder / (name + ".safetensors");
    std::error_code error;
    if (!std::filesystem::is_regular_file(spec.file, error)) {
      std::vector<std::string> names;
      for (const auto& entry : std::filesystem::directory_iterator(folder, error))
        if (entry.path().extension() == ".safetensors") names.push_back(entry.path().stem().string());
      throw Error("<lora:" + body + ">: no " + name + ".safetensors in --lora-dir " + folder.string() +
                  did_you_mean(name, names, "'"));
    }
    loras.push_back(std::move(spec));
    prompt.erase(at, end + 1 - at);
  }
  return loras;
}

}  // namespace vsp::models
