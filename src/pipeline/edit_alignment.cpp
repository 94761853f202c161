// The token-level plan of a prompt-to-prompt edit: mappers, weights, the cross-replace schedule and
// the local-blend words, under each tokenizer of the model.
#include <set>

#include "vsp/error.hpp"
#include "vsp/pipeline/edit.hpp"
#include "vsp/text/prompt_alignment.hpp"

namespace vsp::pipeline {
namespace {

std::string in_quotes(const std::string& text) { return "\"" + text + "\""; }

// The token positions of `word` in `prompt`; throws when one lies past the token limit.
std::vector<int> positions_of(const text::ClipTokenizer& tokenizer, const std::string& prompt, const std::string& word,
                              int max_length, const std::string& flag) {
  const auto positions = text::word_positions(tokenizer, prompt, text::word_indices(prompt, word));
  for (int position : positions)
    if (position >= max_length - 1)
      throw UsageError(flag + " word " + in_quotes(word) + " lies past the " + std::to_string(max_length) +
                       "-token limit of " + in_quotes(prompt) + "; shorten the prompt");
  return positions;
}

// Rows [begin, end) of a (steps + 1) x tokens schedule: int(fraction * (steps + 1)), as the original.
int schedule_row(double fraction, int steps) { return static_cast<int>(fraction * (steps + 1)); }

EditAlignment align_one(const text::ClipTokenizer& tokenizer, const EditRequest& r, int max_length) {
  const auto t = static_cast<size_t>(max_length);
  const auto edits = r.edits.size();
  EditAlignment a;
  a.tokens = max_length;
  for (const auto& edit : r.edits) {
    const bool same_words = text::split_words(r.source).size() == text::split_words(edit).size();
    const std::string mode = r.mode == "auto" ? (same_words ? "replace" : "refine") : r.mode;
    a.modes.push_back(mode);
    if (mode == "replace") {
      a.mapper.push_back(text::replace_mapper(tokenizer, r.source, edit, max_length));
      a.own.emplace_back(t, 0.0f);
    } else {
      const auto refine = text::refine_mapping(tokenizer, r.source, edit, max_length);
      std::vector<float> mapper(t * t, 0.0f), own(t);
      for (size_t j = 0; j < t; ++j) {
        if (refine.source_position[j] >= 0) mapper[refine.source_position[j] * t + j] = refine.alpha[j];
        own[j] = 1.0f - refine.alpha[j];
      }
      a.mapper.push_back(std::move(mapper));
      a.own.push_back(std::move(own));
    }
  }

  a.weights.assign(edits, std::vector<float>(t, 1.0f));
  for (const auto& [word, weight] : r.reweights) {
    bool found = false;
    for (size_t e = 0; e < edits; ++e) {
      for (int position : positions_of(tokenizer, r.edits[e], word, max_length, "--reweight")) {
        a.weights[e][position] = static_cast<float>(weight);
        found = true;
      }
    }
    if (!found)
      throw UsageError("--reweight word " + in_quotes(word) + " is not a word of " +
                       (edits == 1 ? "the edited prompt " + in_quotes(r.edits[0]) : std::string("any edited prompt")) +
                       " (words are split on spaces; punctuation is part of a word)");
  }

  // The cross-replace schedule: the default window on every token, then each word's window on
  // that word's tokens in the edited prompts. A per-word list without a default replaces
  // throughout, as the original.
  double default_end = 1.0;
  for (const auto& [word, fraction] : r.cross_replace)
    if (word == "default") default_end = fraction;
  const auto rows = static_cast<size_t>(r.steps + 1);
  a.default_begin = 0;
  a.default_end = schedule_row(default_end, r.steps);
  a.alpha.assign(edits, std::vector<float>(rows * t, 0.0f));
  for (size_t e = 0; e < edits; ++e)
    for (size_t s = 0; s < static_cast<size_t>(a.default_end) && s < rows; ++s)
      std::fill_n(a.alpha[e].begin() + s * t, t, 1.0f);
  for (const auto& [word, fraction] : r.cross_replace) {
    if (word == "default") continue;
    bool found = false;
    const auto end = static_cast<size_t>(schedule_row(fraction, r.steps));
    for (size_t e = 0; e < edits; ++e) {
      for (int position : positions_of(tokenizer, r.edits[e], word, max_length, "--cross-replace")) {
        for (size_t s = 0; s < rows; ++s) a.alpha[e][s * t + position] = s < end ? 1.0f : 0.0f;
        found = true;
      }
    }
    if (!found) throw UsageError("--cross-replace word " + in_quotes(word) + " is not a word of any edited prompt");
  }

  if (!r.blend.empty()) {
    std::vector<std::string> prompts{r.source};
    prompts.insert(prompts.end(), r.edits.begin(), r.edits.end());
    if (r.blend.size() != prompts.size())
      throw UsageError("--blend gives " + std::to_string(r.blend.size()) + " entries for " +
                       std::to_string(prompts.size()) +
                       " prompts; give one per prompt, source first, separated by commas (e.g. --blend cat,dog)");
    for (size_t p = 0; p < prompts.size(); ++p) {
      std::vector<float> indicator(t, 0.0f);
      if (r.blend[p].empty()) throw UsageError("--blend entry " + std::to_string(p + 1) + " names no word");
      for (const auto& word : r.blend[p]) {
        const auto positions = positions_of(tokenizer, prompts[p], word, max_length, "--blend");
        if (positions.empty())
          throw UsageError("--blend word " + in_quotes(word) + " is not a word of " + in_quotes(prompts[p]) +
                           " (entries go source first, then each edit)");
        for (int position : positions) indicator[position] = 1.0f;
      }
      a.blend.push_back(std::move(indicator));
    }
  }
  return a;
}

}  // namespace

bool EditAlignment::operator==(const EditAlignment& o) const {
  return tokens == o.tokens && modes == o.modes && mapper == o.mapper && own == o.own && weights == o.weights &&
         alpha == o.alpha && blend == o.blend && default_begin == o.default_begin && default_end == o.default_end;
}

EditAlignment align_edit(const std::vector<text::ClipTokenizer>& tokenizers, const EditRequest& request,
                         int max_length) {
  if (request.edits.empty()) throw UsageError("nothing to edit: give --to EDITED_PROMPT or --reweight WORD=WEIGHT");
  if (request.mode != "auto" && request.mode != "replace" && request.mode != "refine")
    throw UsageError("--mode must be auto, replace or refine, got " + in_quotes(request.mode));
  if (tokenizers.empty()) throw Error("the model has no tokenizer; re-export it");
  const auto first = align_one(tokenizers.front(), request, max_length);
  for (size_t i = 1; i < tokenizers.size(); ++i) {
    if (!(align_one(tokenizers[i], request, max_length) == first))
      throw UsageError(
          "the prompts' words fall on different tokens in the model's tokenizer " + std::to_string(i + 1) +
          " than in its first (runs of \"!\" tokenise differently in SDXL's second), so the edit cannot be "
          "applied faithfully; rephrase the prompts");
  }
  return first;
}

}  // namespace vsp::pipeline
