#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "vsp/text/clip_tokenizer.hpp"

// Where the words of two prompts sit among their tokens, for prompt-to-prompt editing
// (docs/methods.md, 3.7), computed exactly as the original code (google/prompt-to-prompt, seq_aligner.py and
// ptp_utils.get_word_inds) does for one tokenizer. Positions count BOS as 0. Torch-free.
namespace vsp::text {

// The prompt's words: split on single spaces, as Python's text.split(" ") (empty words included).
std::vector<std::string> split_words(const std::string& text);
// The indices of the words equal to `word`.
std::vector<int> word_indices(const std::string& text, const std::string& word);

// The token positions of the words at `word_indices`: each token's decoded length is counted off
// against the words' lengths in characters, as get_word_inds does. The text is tokenised whole
// (no truncation), so positions may lie past a 77-token cut. Throws vsp::Error when the tokens run
// past the words (a prompt the original cannot align).
std::vector<int> word_positions(const ClipTokenizer& tokenizer, const std::string& text,
                                const std::vector<int>& word_indices);

// The replace mapper M, max_length x max_length row-major: the edited attention is P_source · M.
// Identity on unchanged words; a changed word's source tokens map to its target tokens, 1/k each
// when the counts differ; after the last changed word the mapper continues on the target's
// positions, as the original does. Throws vsp::Error when the word counts differ or a changed word
// has no tokens.
std::vector<float> replace_mapper(const ClipTokenizer& tokenizer, const std::string& source, const std::string& target,
                                  int max_length);

// Refine: the global alignment (Needleman-Wunsch, gap 0, match +1, mismatch -1) of the two prompts'
// tokens, with BOS and EOS. For each target position j: the aligned source position (-1 for a new
// token) and alpha_j (1 aligned, 0 new); past the target's tokens, the position itself.
struct RefineMapping {
  std::vector<int> source_position;
  std::vector<float> alpha;
};
// Throws vsp::Error when either prompt has more than max_length tokens.
RefineMapping refine_mapping(const ClipTokenizer& tokenizer, const std::string& source, const std::string& target,
                             int max_length);

}  // namespace vsp::text
