// The vsp::attention custom op: the exporter records one call per UNet attention module, with its
// layer id as a constant; here it dispatches to the active controller. Registered by a static
// initialiser, so the executables link this library whole (see CMakeLists.txt).
#include <ATen/ATen.h>
#include <torch/library.h>

#include <atomic>
#include <string>

#include "vsp/attention/controller.hpp"
#include "vsp/error.hpp"

namespace vsp::attention {

struct ActiveState {
  const std::vector<models::AttentionLayer>* layers = nullptr;
  AttentionController* controller = nullptr;
  StepContext step;
};

namespace {

ActiveState g_active;
std::atomic<long long> g_calls{0};
UnetCallWatch* g_watch = nullptr;

at::Tensor attention_op(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t layer) {
  g_calls.fetch_add(1, std::memory_order_relaxed);
  if (g_watch != nullptr && layer == 0) g_watch->calls.push_back({g_active.step, q.size(0)});
  if (g_active.controller == nullptr) return sdpa(q, k, v);
  const auto& layers = *g_active.layers;
  if (layer < 0 || layer >= static_cast<int64_t>(layers.size()))
    throw Error("the UNet called attention layer " + std::to_string(layer) + " but the manifest lists " +
                std::to_string(layers.size()) + " layers; re-export the model");
  return g_active.controller->attend(layers[layer], g_active.step, q, k, v);
}

}  // namespace

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return at::scaled_dot_product_attention(q, k, v);
}

bool StepContext::all_rows_are(RowRole role) const {
  for (const auto& row : roles)
    if (row != role) return false;
  return !roles.empty();
}

ActiveScope::ActiveScope(const std::vector<models::AttentionLayer>& layers, AttentionController* controller)
    : previous_(std::make_unique<ActiveState>(g_active)) {
  g_active = ActiveState{&layers, controller, StepContext{}};
}

ActiveScope::~ActiveScope() { g_active = *previous_; }

void ActiveScope::set_step(const StepContext& step) { g_active.step = step; }

long long attention_call_count() { return g_calls.load(); }

UnetCallWatch::UnetCallWatch() {
  if (g_watch != nullptr) throw std::logic_error("one UnetCallWatch at a time");
  g_watch = this;
}

UnetCallWatch::~UnetCallWatch() { g_watch = nullptr; }

}  // namespace vsp::attention

// The same schema the exporter defines in Python (scripts/vsp_export/op.py). A catch-all kernel:
// it serves CPU and CUDA tensors alike.
TORCH_LIBRARY(vsp, m) {
  m.def("attention(Tensor q, Tensor k, Tensor v, int layer) -> Tensor", &vsp::attention::attention_op);
}
