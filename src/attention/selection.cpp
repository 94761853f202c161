#include "vsp/attention/selection.hpp"

#include <cstdlib>
#include <regex>
#include <set>

#include "vsp/error.hpp"

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
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return list;
}

// Python slice semantics for self[a:b] over `count` items.
std::pair<int, int> slice_bounds(const std::string& from, const std::string& to, int count) {
  const auto bound = [count](const std::string& text, int fallback) {
    if (text.empty()) return fallback;
    int v = std::stoi(text);
    if (v < 0) v += count;
    return std::clamp(v, 0, count);
  };
  return {bound(from, 0), bound(to, count)};
}

}  // namespace

std::vector<bool> select_self_layers(const std::vector<models::AttentionLayer>& layers,
                                     const std::vector<std::string>& specs) {
  std::vector<bool> mask(layers.size(), false);
  std::vector<int> self_ids;
  for (const auto& l : layers)
    if (l.self) self_ids.push_back(l.id);
  static const std::regex slice(R"(self\[(-?\d*):(-?\d*)\])");
  for (const auto& spec : specs) {
    std::smatch match;
    if (spec.size() <= kMaxSpecLength && std::regex_match(spec, match, slice)) {
      const auto [from, to] = slice_bounds(match[1], match[2], static_cast<int>(self_ids.size()));
      for (int i = from; i < to; ++i) mask[self_ids[i]] = true;
      continue;
    }
    bool found = false;
    for (const auto& l : layers) {
      if (l.self && (inside(l.name, spec))) mask[l.id] = found = true;
    }
    if (!found)
      throw Error("the model has no self-attention layers in '" + spec + "'; use a module such as " +
                  known_modules(layers) + ", or a slice such as self[-6:]");
  }
  return mask;
}

std::vector<bool> select_steps(const std::string& spec, int num_steps) {
  std::vector<bool> mask(num_steps, spec == "all" || spec.empty());
  if (spec == "all" || spec.empty()) return mask;
  static const std::regex indices(R"((\d+)(?:-(\d+))?)");
  static const std::regex fractions(R"((\d*\.\d+|\d+\.)-(\d*\.\d+|\d+\.?))");
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::smatch match;
    if (item.size() > kMaxSpecLength) {
      throw Error("bad swap steps '" + item.substr(0, 40) + "...': too long; use all, index ranges like 0-9,20-29, "
                  "or fractions like 0.0-0.5");
    } else if (std::regex_match(item, match, fractions)) {
      // strtod, not stod: 400 digits overflow to HUGE_VAL or underflow to 0 rather than throw.
      const double from = std::strtod(match[1].str().c_str(), nullptr);
      const double to = std::strtod(match[2].str().c_str(), nullptr);
      for (int i = 0; i < num_steps; ++i) {
        const double at = static_cast<double>(i) / num_steps;
        if (at >= from && at < to) mask[i] = true;
      }
    } else if (std::regex_match(item, match, indices)) {
      const int from = std::stoi(match[1]);
      const int to = match[2].matched ? std::stoi(match[2]) : from;
      for (int i = from; i <= to && i < num_steps; ++i) mask[i] = true;
    } else {
      throw Error("bad step selection '" + spec + "'; use all, index ranges like 0-9,20-29, or fractions like 0.0-0.5");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return mask;
}

}  // namespace vsp::attention
