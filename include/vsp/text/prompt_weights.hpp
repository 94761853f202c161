#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vsp/text/clip_tokenizer.hpp"

namespace vsp::text {

// How a prompt is read. a1111: AUTOMATIC1111's emphasis syntax, BREAK and 75-token chunks (no
// truncation). plain: the text as written, A1111's escapes resolved (so a text written for both
// readers reads the same words), cut to one encoder input as diffusers does. verbatim: as plain,
// escapes included (a text already read, e.g. prompt-to-prompt's).
enum class PromptSyntax { a1111, plain, verbatim };

// A run of prompt text with its weight, or a BREAK.
struct PromptPiece {
  std::string text;
  double weight = 1.0;
  bool is_break = false;
};

// A1111's parse_prompt_attention: "(a)" multiplies a's weight by 1.1, "[a]" divides it by 1.1,
// "(a:w)" multiplies it by w; brackets nest and multiply, an unclosed bracket runs to the end, a
// stray closing one is text; "\(" "\)" "\[" "\]" "\\" are the characters and a lone "\" is dropped;
// "BREAK" as a word (capitals) ends a chunk, taking the white space around it. Neighbouring pieces
// of equal weight merge; an empty prompt is one empty piece. Throws vsp::UsageError for a weight
// that is not a number ("(a:1.2.3)").
std::vector<PromptPiece> parse_prompt_weights(std::string_view prompt);

// True when A1111's syntax reads the prompt differently from its plain text (weights, BREAK or escapes).
bool uses_prompt_syntax(std::string_view prompt);

// A1111's escapes resolved ("\(" -> "(", "\\" -> "\"), nothing else: the words a prompt written
// for the syntax shows when weights are off.
std::string without_escapes(std::string_view prompt);

// One text-encoder input: max_length ids and a weight per id.
struct TokenChunk {
  std::vector<int64_t> ids;
  std::vector<float> weights;
};

// The prompt as encoder inputs of max_length ids each.
// a1111 (A1111's tokenize_line): each piece tokenized alone; chunks of max_length - 2 tokens between
// BOS and EOS, padded with EOS, then everything after the first EOS replaced by the tokenizer's pad
// id; a full chunk moves the tokens after its last comma to the next chunk when that comma is
// within 20 tokens of the end; BREAK pads the chunk out. An empty prompt is one chunk.
// plain: one chunk, tokenizer.encode(without_escapes(prompt), max_length), every weight 1;
// verbatim: the same without resolving the escapes.
std::vector<TokenChunk> prompt_chunks(const ClipTokenizer& tokenizer, std::string_view prompt, PromptSyntax syntax,
                                      size_t max_length);

}  // namespace vsp::text
