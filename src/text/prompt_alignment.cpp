#include "vsp/text/prompt_alignment.hpp"

#include <algorithm>

#include "vsp/error.hpp"
#include "vsp/text/unicode.hpp"

namespace vsp::text {
namespace {

std::vector<int64_t> encoded(const ClipTokenizer& tokenizer, const std::string& text) {
  std::vector<int64_t> ids{tokenizer.bos_id()};
  const auto tokens = tokenizer.tokenize(text);
  ids.insert(ids.end(), tokens.begin(), tokens.end());
  ids.push_back(tokenizer.eos_id());
  return ids;
}

// The decoded token without '#' at either end, as get_word_inds counts it.
size_t token_length(const ClipTokenizer& tokenizer, int64_t id) {
  const auto text = tokenizer.token_text(id);
  size_t begin = 0, end = text.size();
  while (begin < end && text[begin] == U'#') ++begin;
  while (end > begin && text[end - 1] == U'#') --end;
  return end - begin;
}

}  // namespace

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  size_t start = 0;
  for (size_t space = text.find(' '); space != std::string::npos; space = text.find(' ', start)) {
    words.push_back(text.substr(start, space - start));
    start = space + 1;
  }
  words.push_back(text.substr(start));
  return words;
}

std::vector<int> word_indices(const std::string& text, const std::string& word) {
  const auto words = split_words(text);
  std::vector<int> indices;
  for (size_t i = 0; i < words.size(); ++i)
    if (words[i] == word) indices.push_back(static_cast<int>(i));
  return indices;
}

std::vector<int> word_positions(const ClipTokenizer& tokenizer, const std::string& text,
                                const std::vector<int>& word_indices) {
  std::vector<int> positions;
  if (word_indices.empty()) return positions;
  std::vector<size_t> word_lengths;
  for (const auto& word : split_words(text)) word_lengths.push_back(unicode::decode_utf8(word).size());
  const auto ids = encoded(tokenizer, text);
  size_t length = 0, word = 0;
  for (size_t i = 1; i + 1 < ids.size(); ++i) {
    if (word >= word_lengths.size())
      throw UsageError(
          "cannot place the words of \"" + text +
          "\" on its tokens: the tokenizer splits some of its characters "
          "into several tokens (common for Chinese, Japanese and Korean) or changes them, and prompt-to-prompt's word "
          "lookup, which "
          "vsp follows, counts each part as a character (the reference code fails here too); use --mode refine, "
          "which aligns tokens, not words, or words the tokenizer keeps whole");
    length += token_length(tokenizer, ids[i]);
    if (std::find(word_indices.begin(), word_indices.end(), static_cast<int>(word)) != word_indices.end())
      positions.push_back(static_cast<int>(i));
    if (length >= word_lengths[word]) {
      ++word;
      length = 0;
    }
  }
  return positions;
}

std::vector<float> replace_mapper(const ClipTokenizer& tokenizer, const std::string& source, const std::string& target,
                                  int max_length) {
  const auto source_words = split_words(source), target_words = split_words(target);
  if (source_words.size() != target_words.size())
    throw UsageError("replace needs prompts with the same number of words, but \"" + source + "\" has " +
                     std::to_string(source_words.size()) + " and \"" + target + "\" has " +
                     std::to_string(target_words.size()) + "; use --mode refine");
  std::vector<std::vector<int>> source_positions, target_positions;
  for (size_t w = 0; w < target_words.size(); ++w) {
    if (source_words[w] == target_words[w]) continue;
    source_positions.push_back(word_positions(tokenizer, source, {static_cast<int>(w)}));
    target_positions.push_back(word_positions(tokenizer, target, {static_cast<int>(w)}));
    if (source_positions.back().empty() || target_positions.back().empty())
      throw UsageError("word " + std::to_string(w + 1) + " of \"" + source + "\" or \"" + target +
                       "\" has no tokens; separate words with single spaces");
    for (const auto& positions : {source_positions.back(), target_positions.back()})
      if (positions.back() >= max_length - 1)
        throw UsageError("the changed word \"" + target_words[w] + "\" lies past the " + std::to_string(max_length) +
                         "-token limit of the prompts; shorten them");
  }
  const auto n = static_cast<size_t>(max_length);
  std::vector<float> mapper(n * n, 0.0f);
  size_t i = 0, j = 0, changed = 0;
  while (i < n && j < n) {
    if (changed < source_positions.size() && source_positions[changed][0] == static_cast<int>(i)) {
      const auto& from = source_positions[changed];
      const auto& to = target_positions[changed];
      if (from.size() == to.size()) {
        for (size_t k = 0; k < from.size(); ++k) mapper[from[k] * n + to[k]] = 1.0f;
      } else {
        for (int t : to)
          for (int s : from) mapper[s * n + t] = 1.0f / static_cast<float>(to.size());
      }
      ++changed;
      i += from.size();
      j += to.size();
    } else {
      // After the last changed word the original maps j to j, not i to j.
      mapper[(changed < source_positions.size() ? i : j) * n + j] = 1.0f;
      ++i;
      ++j;
    }
  }
  return mapper;
}

RefineMapping refine_mapping(const ClipTokenizer& tokenizer, const std::string& source, const std::string& target,
                             int max_length) {
  const auto x = encoded(tokenizer, source), y = encoded(tokenizer, target);
  for (const auto* prompt : {&source, &target}) {
    const auto& ids = prompt == &source ? x : y;
    if (ids.size() > static_cast<size_t>(max_length))
      throw UsageError("refine aligns whole prompts, but \"" + *prompt + "\" has " + std::to_string(ids.size()) +
                       " tokens, over the " + std::to_string(max_length) + "-token limit; shorten it");
  }
  // Scores and the traceback as the original: 1 left, 2 up, 3 diagonal (ties in that order).
  const size_t rows = x.size() + 1, cols = y.size() + 1;
  std::vector<int> score(rows * cols, 0), trace(rows * cols, 0);
  for (size_t j = 1; j < cols; ++j) trace[j] = 1;
  for (size_t i = 1; i < rows; ++i) trace[i * cols] = 2;
  for (size_t i = 1; i < rows; ++i) {
    for (size_t j = 1; j < cols; ++j) {
      const int left = score[i * cols + j - 1], up = score[(i - 1) * cols + j];
      const int diagonal = score[(i - 1) * cols + j - 1] + (x[i - 1] == y[j - 1] ? 1 : -1);
      const int best = std::max({left, up, diagonal});
      score[i * cols + j] = best;
      trace[i * cols + j] = best == left ? 1 : best == up ? 2 : 3;
    }
  }
  std::vector<int> aligned(y.size(), -1);
  for (size_t i = x.size(), j = y.size(); i > 0 || j > 0;) {
    const int step = trace[i * cols + j];
    if (step == 3) {
      aligned[--j] = static_cast<int>(--i);
    } else if (step == 1) {
      aligned[--j] = -1;
    } else {
      --i;
    }
  }
  RefineMapping mapping{std::vector<int>(max_length), std::vector<float>(max_length, 1.0f)};
  for (int j = 0; j < max_length; ++j) {
    if (static_cast<size_t>(j) < y.size()) {
      mapping.source_position[j] = aligned[j];
      mapping.alpha[j] = aligned[j] >= 0 ? 1.0f : 0.0f;
    } else {
      mapping.source_position[j] = j;
    }
  }
  return mapping;
}

}  // namespace vsp::text
