#include "vsp/config/selection.hpp"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <optional>
#include <regex>
#include <set>

#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp::attention {
namespace {

bool inside(const std::string& name, const std::string& prefix) {
  return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 && name[prefix.size()] == '.';
}

// std::regex recurses once per character, so a spec of ~50,000 characters overflows the stack;
// no valid spec or item comes near this length.
constexpr size_t kMaxSpecLength = 256;

std::string known_modules(const std::vector<models::AttentionLayer>& layers) {
  std::set<std::string> names;
  for (const auto& l : layers)
    if (l.self) names.insert(l.block), names.insert(l.attention);
  return join({names.begin(), names.end()});
}

// Python slice semantics for self[a:b] over `count` items; any integer is a valid bound.
std::pair<int, int> slice_bounds(const std::string& from, const std::string& to, int count, const std::string& spec) {
  const auto bound = [&](const std::string& text, int fallback) {
    if (text.empty()) return fallback;
    const auto v = values::parse_decimal_integer(text, INT64_MIN / 2, INT64_MAX / 2);
    if (!v) throw Error("bad layer slice '" + spec + "'; use integers, e.g. self[-6:]");
    return static_cast<int>(std::clamp<int64_t>(*v < 0 ? *v + count : *v, 0, count));
  };
  return {bound(from, 0), bound(to, count)};
}

int step_index(const std::string& text, int num_steps, const std::string& spec) {
  const auto v = values::parse_decimal_integer(text, 0, INT32_MAX);
  if (!v || *v >= num_steps)
    throw Error("swap steps '" + spec + "': step " + text + " is past the last step (" + std::to_string(num_steps - 1) +
                " with " + std::to_string(num_steps) + " steps); steps count from 0");
  return static_cast<int>(*v);
}

// The self-attention layers a preset names, from the model's own layer table, so that one name
// fits every family: "default" is the last decoder block with attention (the finest attention
// level: SDXL's up_blocks.1, SD 1.x/2.x's up_blocks.3); "strong" adds the last attention module of
// the decoder block before it (SDXL: up_blocks.0.attentions.2, SD 1.x/2.x: up_blocks.2.attentions.2).
std::optional<std::vector<int>> preset_layers(const std::vector<models::AttentionLayer>& layers,
                                              const std::string& name) {
  if (name != "default" && name != "strong") return std::nullopt;
  std::vector<int> ids;
  const models::AttentionLayer* last = nullptr;
  for (const auto& l : layers)
    if (l.self) last = &l;
  if (last == nullptr) return ids;
  for (const auto& l : layers)
    if (l.self && l.block == last->block) ids.push_back(l.id);
  if (name == "strong") {
    const models::AttentionLayer* before = nullptr;
    for (const auto& l : layers)
      if (l.self && l.block != last->block && l.block.rfind("up_blocks.", 0) == 0) before = &l;
    if (before != nullptr)
      for (const auto& l : layers)
        if (l.self && l.attention == before->attention) ids.push_back(l.id);
  }
  return ids;
}

}  // namespace

std::vector<bool> select_self_layers(const std::vector<models::AttentionLayer>& layers,
                                     const std::vector<std::string>& specs) {
  if (specs.empty())
    throw Error(
        "the layer selection is empty; name a preset (default, strong), modules such as up_blocks.1, or a slice such "
        "as self[-6:]");
  std::vector<bool> mask(layers.size(), false);
  std::vector<int> self_ids;
  for (const auto& l : layers)
    if (l.self) self_ids.push_back(l.id);
  static const std::regex slice(R"(self\[([-+]?\d*):([-+]?\d*)\])");
  for (const auto& spec : specs) {
    if (const auto preset = preset_layers(layers, spec)) {
      if (preset->empty()) throw Error("layer preset '" + spec + "': the model has no self-attention layers");
      for (int id : *preset) mask[id] = true;
      continue;
    }
    std::smatch match;
    if (spec.size() <= kMaxSpecLength && std::regex_match(spec, match, slice)) {
      const auto [from, to] = slice_bounds(match[1], match[2], static_cast<int>(self_ids.size()), spec);
      if (from >= to)
        throw Error("layer slice '" + spec + "' selects no layers (the model has " + std::to_string(self_ids.size()) +
                    " self-attention layers); e.g. self[-6:] takes the last six");
      for (int i = from; i < to; ++i) mask[self_ids[i]] = true;
      continue;
    }
    bool found = false;
    for (const auto& l : layers) {
      // A module selects the layers inside it; a layer's own name selects that layer.
      if (l.self && (inside(l.name, spec) || l.name == spec)) mask[l.id] = found = true;
    }
    if (!found)
      throw Error("the model has no self-attention layers in '" + spec +
                  "'; use a preset (default, strong), a module such as " + known_modules(layers) +
                  ", or a slice such as self[-6:]");
  }
  return mask;
}

std::vector<bool> select_steps(const std::string& spec, int num_steps) {
  // "none" asks for no swap at all (a baseline); a range that happens to select nothing is an error.
  std::vector<bool> mask(num_steps, spec == "all");
  if (spec == "all" || spec == "none") return mask;
  static const std::regex indices(R"((\d+)(?:-(\d+))?)");
  static const std::regex fractions(R"((\d*\.\d+|\d+\.)-(\d*\.\d+|\d+\.?))");
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::smatch match;
    bool any = false;
    if (item.size() > kMaxSpecLength) {
      throw Error("bad swap steps '" + item.substr(0, 40) +
                  "...': too long; use all, index ranges like 0-9,20-29, "
                  "or fractions like 0.0-0.5");
    } else if (std::regex_match(item, match, fractions)) {
      // strtod, not stod: 400 digits overflow to HUGE_VAL or underflow to 0 rather than throw.
      const double from = std::strtod(match[1].str().c_str(), nullptr);
      const double to = std::strtod(match[2].str().c_str(), nullptr);
      if (from >= to || to > 1.0)
        throw Error("swap steps '" + item + "': a fraction range runs from low to high within 0.0-1.0, e.g. 0.0-0.5");
      for (int i = 0; i < num_steps; ++i) {
        const double at = static_cast<double>(i) / num_steps;
        if (at >= from && at < to) mask[i] = any = true;
      }
    } else if (std::regex_match(item, match, indices)) {
      const int from = step_index(match[1], num_steps, spec);
      const int to = match[2].matched ? step_index(match[2], num_steps, spec) : from;
      if (from > to) throw Error("swap steps '" + item + "' runs backwards; write the range low to high, e.g. 2-9");
      for (int i = from; i <= to; ++i) mask[i] = any = true;
    } else {
      throw Error("bad swap steps '" + spec + "'; use all, index ranges like 0-9,20-29, or fractions like 0.0-0.5");
    }
    if (!any)
      throw Error("swap steps '" + item + "' select no step of " + std::to_string(num_steps) +
                  "; widen the range or use all");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return mask;
}

}  // namespace vsp::attention
