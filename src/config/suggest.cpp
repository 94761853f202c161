#include "vsp/config/suggest.hpp"

#include <cctype>
#include <map>

#include <algorithm>
#include <utility>

namespace vsp {
namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "--cfg-scale", "cfg_scale" and "CFG_Scale" all read "cfg_scale".
std::string plain_name(const std::string& name) {
  const auto start = name.find_first_not_of('-');
  std::string plain = start == std::string::npos ? "" : name.substr(start);
  for (char& c : plain) c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return plain;
}

// The candidate that other tools' name for it means, spelled as the candidates are: A1111's,
// diffusers' and stable-diffusion.cpp's names for vsp's options; "" when `word` is none of them.
std::string by_meaning(const std::string& word, const std::vector<std::string>& candidates) {
  static const std::map<std::string, std::string> meanings = {{"cfg_scale", "cfg"},
                                                              {"guidance_scale", "cfg"},
                                                              {"sampler_name", "sampler"},
                                                              {"sampling_method", "sampler"},
                                                              {"scheduler", "sampler"},
                                                              {"negative_prompt", "negative"},
                                                              {"num_inference_steps", "steps"},
                                                              {"sample_steps", "steps"},
                                                              {"num_images_per_prompt", "num"},
                                                              {"batch_count", "num"},
                                                              {"n_iter", "num"},
                                                              {"output", "out"}};
  const auto meaning = meanings.find(plain_name(word));
  if (meaning == meanings.end()) return "";
  for (const auto& candidate : candidates)
    if (plain_name(candidate) == meaning->second) return candidate;
  return "";
}

}  // namespace

std::vector<std::string> closest(const std::string& word, const std::vector<std::string>& candidates, size_t limit) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& c : candidates) {
    const size_t close = std::max<size_t>(2, std::max(word.size(), c.size()) / 2);
    // The distance is at least the difference in length: skip the work for a far longer word.
    if (std::max(word.size(), c.size()) - std::min(word.size(), c.size()) > close) continue;
    const size_t d = edit_distance(word, c);
    if (d <= close) scored.emplace_back(d, c);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < scored.size() && i < limit; ++i) out.push_back(scored[i].second);
  return out;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates,
                         const std::string& quote) {
  if (const auto meant = by_meaning(word, candidates); !meant.empty())
    return "; did you mean " + quote + meant + quote + "?";
  const auto near = closest(word, candidates, 1);
  return near.empty() ? "" : "; did you mean " + quote + near[0] + quote + "?";
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

}  // namespace vsp
