#include "vsp/config/edit_options.hpp"

#include <algorithm>
#include <cmath>

#include "vsp/error.hpp"
#include "vsp/values.hpp"

namespace vsp::app {

// "default=1.0,dog=0.4" or "0.8" -> (word, fraction) pairs.
std::vector<std::pair<std::string, double>> parse_cross_replace(const std::string& text) {
  std::vector<std::pair<std::string, double>> entries;
  const auto fraction = [&](const std::string& value) {
    const auto parsed = values::parse_decimal_number(value);
    if (!parsed || *parsed < 0 || *parsed > 1)
      throw UsageError("--cross-replace takes fractions from 0 to 1 (0.8, or default=1.0,dog=0.4), got \"" + text +
                       "\"");
    return *parsed;
  };
  size_t start = 0;
  while (start <= text.size()) {
    const auto comma = std::min(text.find(',', start), text.size());
    const auto entry = text.substr(start, comma - start);
    const auto equals = entry.rfind('=');
    if (equals == std::string::npos) {
      if (!entries.empty() || comma != text.size())
        throw UsageError(
            "--cross-replace: give one fraction (0.8) or word=fraction entries (default=1.0,dog=0.4), got \"" + text +
            "\"");
      entries.emplace_back("default", fraction(entry));
    } else {
      if (equals == 0) throw UsageError("--cross-replace entry \"" + entry + "\" names no word");
      entries.emplace_back(entry.substr(0, equals), fraction(entry.substr(equals + 1)));
    }
    start = comma + 1;
  }
  return entries;
}

std::vector<std::pair<std::string, double>> parse_reweights(const std::vector<std::string>& given) {
  std::vector<std::pair<std::string, double>> reweights;
  for (const auto& entry : given) {
    const auto equals = entry.rfind('=');
    const auto weight =
        equals == std::string::npos ? std::nullopt : values::parse_decimal_number(entry.substr(equals + 1));
    if (equals == 0 || !weight || std::abs(*weight) > 100)
      throw UsageError(
          "--reweight takes WORD=WEIGHT with a weight from -100 to 100 (e.g. --reweight fluffy=2), got \"" + entry +
          "\"");
    reweights.emplace_back(entry.substr(0, equals), *weight);
  }
  return reweights;
}

}  // namespace vsp::app
