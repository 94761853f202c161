#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "vsp/attention/controller.hpp"

namespace vsp::attention {

// StyleID's injection (Chung et al., CVPR 2024). The image rows (contents first, then styles) run
// in a call of their own; in the injected self-attention layers the controller records the
// contents' queries and the styles' keys and values at each timestep. In the stylised rows' calls,
// row r of pair (c, s) attends with
//   q~ = gamma q_c(t) + (1 - gamma) q_r,   out = softmax(tau q~ K_s(t)^T / sqrt(d)) V_s(t),
// one fused SDPA over all stylised rows of the call (tau folded into q~). Other layers, the image
// rows and all cross-attention are untouched.
// Features are recorded during sampling (recompute: the image rows run at their inverted latents
// in every step, and a step's features are dropped when it ends) or during the inversion (cache:
// kept for the whole run, keyed by timestep).
class StyleInjectionController : public AttentionController {
 public:
  struct Pair {
    int64_t content;  // index among the content rows
    int64_t style;    // index among the style rows
  };
  // layers: injected layers by id; contents: the number of content rows (the style rows follow);
  // pairs[k]: the images of the k-th stylised row; first_stylised_row: the row index of the first
  // stylised row in the sampling layout; cache: record during the inversion instead.
  StyleInjectionController(std::vector<bool> layers, double gamma, double tau, int64_t contents,
                           std::vector<Pair> pairs, int64_t first_stylised_row, bool cache);
  at::Tensor attend(const models::AttentionLayer& layer, const StepContext& step, const at::Tensor& q,
                    const at::Tensor& k, const at::Tensor& v) override;
  void end_step(const StepContext& step) override;

 private:
  struct Features {
    at::Tensor content_q;         // [contents, H, N, d]
    at::Tensor style_k, style_v;  // [styles, H, N, d]
  };
  bool recording(const StepContext& step) const;

  std::vector<bool> layers_;
  double gamma_, tau_;
  int64_t contents_;
  std::vector<Pair> pairs_;
  int64_t first_stylised_row_;
  bool cache_;
  std::map<std::pair<int, int64_t>, Features> features_;  // (layer id, timestep) -> features
};

}  // namespace vsp::attention
