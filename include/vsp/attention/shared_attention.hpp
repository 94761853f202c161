#pragma once
#include <map>
#include <vector>

#include "vsp/attention/controller.hpp"

namespace vsp::attention {

// Shared attention (StyleAligned's method, the paper code's use_shared_attention): in the chosen
// self-attention layers and steps, every target row attends to its own keys and values and to the
// reference row's of its CFG half, concatenated along the tokens:
//   out_tgt = softmax(Q' [K'_tgt; K_ref]^T / sqrt(d)) [V_tgt; V_ref].
// With AdaIN (the paper's default: queries and keys), Q' and K'_tgt are the target's queries and
// keys renormalised, per head over the tokens, to the reference's mean and standard deviation:
//   AdaIN(x) = (x - mean(x)) / std(x) * std(x_ref) + mean(x_ref),  std = sqrt(var + 1e-5).
// As in the style swap, the reference runs first in its own UNet call and is itself untouched
// (attending to its own keys twice over, as the paper's code does, is the same softmax).
class SharedAttentionController : public AttentionController {
 public:
  SharedAttentionController(std::vector<bool> layers, std::vector<bool> steps, bool adain);
  at::Tensor attend(const models::AttentionLayer& layer, const StepContext& step, const at::Tensor& q,
                    const at::Tensor& k, const at::Tensor& v) override;
  void end_step(const StepContext& step) override;

 private:
  struct Reference {
    at::Tensor k, v;                          // [halves, H, M, d]
    at::Tensor q_mean, q_std, k_mean, k_std;  // [halves, H, 1, d]
  };
  std::vector<bool> layers_;
  std::vector<bool> steps_;
  bool adain_;
  std::map<int, Reference> references_;  // layer id -> the reference's tensors of this step
};

// Mean and standard deviation over the tokens (dim -2), per head and channel: sqrt(unbiased
// variance + 1e-5), as the paper's calc_mean_std.
std::pair<at::Tensor, at::Tensor> token_mean_std(const at::Tensor& x);

}  // namespace vsp::attention
