// AUTOMATIC1111's prompt syntax (modules/prompt_parser.py, parse_prompt_attention) and its
// chunking (modules/sd_hijack_clip.py, tokenize_line), followed step for step so that a prompt
// gets A1111's tokens and weights.
#include "vsp/text/prompt_weights.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>

#include "vsp/error.hpp"

namespace vsp::text {
namespace {

constexpr double kRoundBracket = 1.1;
constexpr double kSquareBracket = 1 / 1.1;
// A1111's comma_padding_backtrack default: how far back a full chunk looks for a comma to break at.
constexpr size_t kCommaBacktrack = 20;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
// Python's \w on the bytes of UTF-8: a non-ASCII byte counts as part of a word (a letter, mostly).
bool is_word(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}
bool is_special(char c) { return std::strchr("\\()[]:", c) != nullptr && c != '\0'; }

// re.split(r"\s*\bBREAK\b\s*", text): the parts between BREAKs.
std::vector<std::string> split_breaks(std::string_view text) {
  std::vector<std::string> parts;
  size_t part_start = 0;
  for (size_t at = text.find("BREAK"); at != std::string_view::npos; at = text.find("BREAK", at + 1)) {
    const size_t end = at + 5;
    if ((at > 0 && is_word(text[at - 1])) || (end < text.size() && is_word(text[end]))) continue;
    size_t begin = at;
    while (begin > part_start && is_space(text[begin - 1])) --begin;
    size_t after = end;
    while (after < text.size() && is_space(text[after])) ++after;
    parts.emplace_back(text.substr(part_start, begin - part_start));
    part_start = after;
    at = after - 1;
  }
  parts.emplace_back(text.substr(part_start));
  return parts;
}

// Python's float() on A1111's [+-]?[.\d]+.
double weight_value(std::string_view text) {
  std::string_view digits = text;
  double sign = 1;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    sign = digits[0] == '-' ? -1 : 1;
    digits.remove_prefix(1);
  }
  double value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size())
    throw UsageError("prompt weight \"" + std::string(text) + "\" is not a number; write it like (word:1.2)");
  return sign * value;
}

// The length of ":\s*([+-]?[.\d]+)\s*\)" at `at`, 0 if it does not match; `weight` gets the number.
size_t match_weight(std::string_view text, size_t at, std::string_view& weight) {
  size_t i = at + 1;
  while (i < text.size() && is_space(text[i])) ++i;
  const size_t number = i;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t body = i;
  while (i < text.size() && (is_digit(text[i]) || text[i] == '.')) ++i;
  if (i == body) return 0;
  weight = text.substr(number, i - number);
  while (i < text.size() && is_space(text[i])) ++i;
  return i < text.size() && text[i] == ')' ? i + 1 - at : 0;
}

}  // namespace

std::vector<PromptPiece> parse_prompt_weights(std::string_view prompt) {
  std::vector<PromptPiece> pieces;
  std::vector<size_t> round, square;  // where each open bracket's range starts
  const auto multiply_from = [&](size_t start, double by) {
    for (size_t p = start; p < pieces.size(); ++p)
      if (!pieces[p].is_break) pieces[p].weight *= by;
  };
  const auto add_text = [&](std::string_view text) {
    const auto parts = split_breaks(text);
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) pieces.push_back({"BREAK", 1.0, true});
      pieces.push_back({parts[i], 1.0});
    }
  };
  for (size_t at = 0; at < prompt.size();) {
    const char c = prompt[at];
    std::string_view weight;
    size_t length = 0;
    if (c == '\\') {
      const bool escape = at + 1 < prompt.size() && prompt[at + 1] != '\0' && std::strchr("()[]\\", prompt[at + 1]);
      pieces.push_back({escape ? std::string(1, prompt[at + 1]) : std::string(), 1.0});
      at += escape ? 2 : 1;
    } else if (c == '(') {
      round.push_back(pieces.size());
      ++at;
    } else if (c == '[') {
      square.push_back(pieces.size());
      ++at;
    } else if (c == ':' && (length = match_weight(prompt, at, weight)) > 0) {
      if (round.empty()) {
        add_text(prompt.substr(at, length));
      } else {
        multiply_from(round.back(), weight_value(weight));
        round.pop_back();
      }
      at += length;
    } else if (c == ')' && !round.empty()) {
      multiply_from(round.back(), kRoundBracket);
      round.pop_back();
      ++at;
    } else if (c == ']' && !square.empty()) {
      multiply_from(square.back(), kSquareBracket);
      square.pop_back();
      ++at;
    } else if (c == ':' || c == ')' || c == ']') {
      add_text(prompt.substr(at, 1));
      ++at;
    } else {
      size_t end = at;
      while (end < prompt.size() && !is_special(prompt[end])) ++end;
      add_text(prompt.substr(at, end - at));
      at = end;
    }
  }
  for (size_t start : round) multiply_from(start, kRoundBracket);
  for (size_t start : square) multiply_from(start, kSquareBracket);
  if (pieces.empty()) pieces.push_back({"", 1.0});
  std::vector<PromptPiece> merged;
  for (auto& piece : pieces) {
    if (!merged.empty() && !piece.is_break && !merged.back().is_break && merged.back().weight == piece.weight)
      merged.back().text += piece.text;
    else
      merged.push_back(std::move(piece));
  }
  return merged;
}

bool uses_prompt_syntax(std::string_view prompt) {
  const auto pieces = parse_prompt_weights(prompt);
  return pieces.size() != 1 || pieces.front().weight != 1.0 || pieces.front().text != prompt;
}

std::string without_escapes(std::string_view prompt) {
  std::string text;
  for (size_t at = 0; at < prompt.size(); ++at) {
    if (prompt[at] == '\\' && at + 1 < prompt.size() && prompt[at + 1] != '\0' && std::strchr("()[]\\", prompt[at + 1]))
      ++at;
    text += prompt[at];
  }
  return text;
}

std::vector<TokenChunk> prompt_chunks(const ClipTokenizer& tokenizer, std::string_view prompt, PromptSyntax syntax,
                                      size_t max_length) {
  if (syntax != PromptSyntax::a1111) {
    auto ids =
        tokenizer.encode(syntax == PromptSyntax::plain ? without_escapes(prompt) : std::string(prompt), max_length);
    return {{ids, std::vector<float>(ids.size(), 1.0f)}};
  }
  const size_t chunk_length = max_length - 2;
  std::vector<TokenChunk> chunks;
  TokenChunk chunk;
  size_t last_comma = SIZE_MAX;
  const auto next_chunk = [&] {
    chunk.ids.resize(chunk_length, tokenizer.eos_id());
    chunk.weights.resize(chunk_length, 1.0f);
    chunk.ids.insert(chunk.ids.begin(), tokenizer.bos_id());
    chunk.weights.insert(chunk.weights.begin(), 1.0f);
    chunk.ids.push_back(tokenizer.eos_id());
    chunk.weights.push_back(1.0f);
    // The encoder sees its own pad id after the text's end, as its tokenizer would pad.
    auto eos = std::find(chunk.ids.begin(), chunk.ids.end(), tokenizer.eos_id());
    std::fill(eos + 1, chunk.ids.end(), tokenizer.pad_id());
    chunks.push_back(std::move(chunk));
    chunk = {};
    last_comma = SIZE_MAX;
  };
  for (const auto& piece : parse_prompt_weights(prompt)) {
    if (piece.is_break) {
      next_chunk();
      continue;
    }
    for (int64_t token : tokenizer.tokenize(piece.text)) {
      if (token == tokenizer.comma_id()) {
        last_comma = chunk.ids.size();
      } else if (chunk.ids.size() == chunk_length && last_comma != SIZE_MAX &&
                 chunk.ids.size() - last_comma <= kCommaBacktrack) {
        const auto cut = static_cast<std::ptrdiff_t>(last_comma + 1);
        TokenChunk moved{{chunk.ids.begin() + cut, chunk.ids.end()},
                         {chunk.weights.begin() + cut, chunk.weights.end()}};
        chunk.ids.resize(last_comma + 1);
        chunk.weights.resize(last_comma + 1);
        next_chunk();
        chunk = std::move(moved);
      }
      if (chunk.ids.size() == chunk_length) next_chunk();
      chunk.ids.push_back(token);
      chunk.weights.push_back(static_cast<float>(piece.weight));
    }
  }
  if (!chunk.ids.empty() || chunks.empty()) next_chunk();
  return chunks;
}

}  // namespace vsp::text
