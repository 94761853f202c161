#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace vsp::models {

// A LoRA file and the weight it is merged at (A1111's <lora:NAME:W>, diffusers' lora_scale).
struct LoraSpec {
  std::filesystem::path file;
  double weight = 1.0;
  bool operator==(const LoraSpec& other) const { return file == other.file && weight == other.weight; }
};

// "FILE" or "FILE:WEIGHT" (--lora), relative paths from base_folder; the weight is a finite number
// from -10 to 10 (a colon followed by anything else is part of the name). Checks that the file
// exists. Throws vsp::UsageError for a bad weight, vsp::Error for a missing file.
LoraSpec parse_lora_spec(const std::string& text, const std::filesystem::path& base_folder);

// A1111's LoRA tags, <lora:NAME> and <lora:NAME:WEIGHT>, taken out of `prompt` (the text between
// stays as it was, as A1111 leaves it), each resolved to folder/NAME.safetensors. Throws
// vsp::UsageError for a malformed tag or weight, vsp::Error when the folder has no such file
// (naming the closest).
std::vector<LoraSpec> take_lora_tags(std::string& prompt, const std::filesystem::path& folder);

}  // namespace vsp::models
