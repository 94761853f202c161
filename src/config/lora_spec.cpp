#include "vsp/config/lora_spec.hpp"

#include <cmath>

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

}  // namespace vsp::models
