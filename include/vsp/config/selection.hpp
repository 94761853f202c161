#pragma once
#include <string>
#include <vector>

#include "vsp/config/manifest.hpp"

namespace vsp::attention {

// Self-attention layers chosen by a list of specs, each either
//   - a preset that fits every family: "default" (the last decoder block with attention: SDXL's
//     up_blocks.1, SD 1.x/2.x's up_blocks.3) or "strong" (default plus the last attention module
//     of the decoder block before: SDXL's up_blocks.0.attentions.2), or
//   - a module prefix: "up_blocks.1" or "up_blocks.0.attentions.2" (every self-attention layer
//     inside it), or a layer's own name ("...transformer_blocks.0.attn1"), or
//   - a Python-style slice over the self-attention layers in execution order: "self[-6:]" (the
//     last six), "self[64:70]".
// Returns a mask over all layer ids. Throws vsp::Error naming an unknown module and the valid ones,
// and on a selection that selects nothing (an empty list, self[5:2]).
std::vector<bool> select_self_layers(const std::vector<models::AttentionLayer>& layers,
                                     const std::vector<std::string>& specs);

// Steps chosen by a spec: "all", "none" (no step: a baseline without the swap), or comma-separated ranges of step
// indices "0-9,20-29" (inclusive; "5" alone is one step), or of fractions of the run "0.0-0.5" (steps i with from <=
// i/num_steps < to). Throws vsp::Error on a malformed spec, a step past the last one, a backwards range, or a range
// that selects no step at this step count.
std::vector<bool> select_steps(const std::string& spec, int num_steps);

}  // namespace vsp::attention
