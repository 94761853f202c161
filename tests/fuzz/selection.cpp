// The layer and step selection parser (--layers, --swap-steps and the style files' fields).
// Input: a first byte for the step count (1 to 256), then a step spec line, then one layer spec per
// line, against a small fixed layer table shaped like SDXL's.
#include <cstdint>
#include <string>
#include <vector>

#include "vsp/config/selection.hpp"
#include "vsp/error.hpp"

namespace {

std::vector<vsp::models::AttentionLayer> layer_table() {
  std::vector<vsp::models::AttentionLayer> layers;
  const auto add = [&](const std::string& block, const std::string& attention, int level) {
    for (const bool self : {true, false}) {
      vsp::models::AttentionLayer layer;
      layer.id = static_cast<int>(layers.size());
      layer.name = attention + ".transformer_blocks.0." + (self ? "attn1" : "attn2");
      layer.self = self;
      layer.block = block;
      layer.attention = attention;
      layer.level = level;
      layer.heads = 2;
      layer.head_dim = 8;
      layers.push_back(layer);
    }
  };
  add("down_blocks.1", "down_blocks.1.attentions.0", 1);
  add("down_blocks.2", "down_blocks.2.attentions.0", 2);
  add("mid_block", "mid_block.attentions.0", 2);
  add("up_blocks.0", "up_blocks.0.attentions.0", 2);
  add("up_blocks.0", "up_blocks.0.attentions.1", 2);
  add("up_blocks.1", "up_blocks.1.attentions.0", 1);
  return layers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto layers = layer_table();
  if (size == 0) return 0;
  const int steps = 1 + data[0];
  std::vector<std::string> lines(1);
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == '\n')
      lines.emplace_back();
    else
      lines.back() += static_cast<char>(data[i]);
  }
  try {
    const auto mask = vsp::attention::select_steps(lines[0], steps);
    if (mask.size() != static_cast<size_t>(steps)) __builtin_trap();
  } catch (const vsp::Error&) {
  }
  try {
    const auto mask = vsp::attention::select_self_layers(layers, {lines.begin() + 1, lines.end()});
    if (mask.size() != layers.size()) __builtin_trap();
  } catch (const vsp::Error&) {
  }
  return 0;
}
