#pragma once
#include <string>

namespace vsp::models {

// One row of the manifest's attention table: one UNet attention module, in execution order.
struct AttentionLayer {
  int id = 0;
  std::string name;       // "up_blocks.1.attentions.0.transformer_blocks.0.attn1"
  bool self = true;       // attn1 (self) or attn2 (cross)
  std::string block;      // "down_blocks.1", "mid_block", "up_blocks.0", ...
  std::string attention;  // "up_blocks.0.attentions.2"
  int level = 0;          // resolution level: 0 = full latent size, +1 per downsampling
  int heads = 0;
  int head_dim = 0;
};

}  // namespace vsp::models
