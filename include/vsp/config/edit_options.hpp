#pragma once
// The edit mode's option values that have a syntax of their own. Torch-free, so they are fuzzed
// (tests/fuzz/edit_options.cpp). Each throws vsp::UsageError naming the flag and the form it takes.
#include <string>
#include <utility>
#include <vector>

namespace vsp::app {

// --cross-replace: "0.8" (every word) or "default=1.0,dog=0.4" -> (word, fraction) pairs, each
// fraction from 0 to 1.
std::vector<std::pair<std::string, double>> parse_cross_replace(const std::string& text);

// --reweight WORD=WEIGHT ... -> (word, weight) pairs, each weight from -100 to 100.
std::vector<std::pair<std::string, double>> parse_reweights(const std::vector<std::string>& given);

}  // namespace vsp::app
