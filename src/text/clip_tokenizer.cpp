#include "vsp/text/clip_tokenizer.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <queue>

#include "vsp/error.hpp"
#include "vsp/text/unicode.hpp"

namespace vsp::text {
namespace {

using unicode::CharClass;

constexpr std::u32string_view kStartOfText = U"<|startoftext|>";
constexpr std::u32string_view kEndOfText = U"<|endoftext|>";
constexpr std::string_view kEndOfWord = "</w>";

// GPT-2's byte -> printable character map, the alphabet of byte-level BPE.
std::array<char32_t, 256> byte_characters() {
  std::array<char32_t, 256> chars{};
  char32_t next_unprintable = 256;
  for (int byte = 0; byte < 256; ++byte) {
    bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
    chars[byte] = printable ? static_cast<char32_t>(byte) : next_unprintable++;
  }
  return chars;
}

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

std::string to_utf8(std::u32string_view text) {
  std::string out;
  for (char32_t c : text) unicode::append_utf8(out, c);
  return out;
}

bool starts_with(std::u32string_view text, size_t at, std::u32string_view prefix) {
  return text.compare(at, prefix.size(), prefix) == 0;
}

// Length of 's 't 're 've 'm 'll 'd at `at`, else 0.
size_t contraction_length(std::u32string_view text, size_t at) {
  for (std::u32string_view suffix : {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"}) {
    if (starts_with(text, at, suffix)) return suffix.size();
  }
  return 0;
}

size_t run_length(std::u32string_view text, size_t at, CharClass cls) {
  size_t end = at;
  while (end < text.size() && unicode::char_class(text[end]) == cls) ++end;
  return end - at;
}

// The length of the match at `at` of CLIP's pattern
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// or of ByteLevel's GPT-2 pattern (the same without the special tokens, with [\p{N}]+), as both
// reduce on text without white space; alternatives are tried in order. 0 for white space.
size_t piece_length(std::u32string_view text, size_t at, bool clip_pattern) {
  if (clip_pattern) {
    for (std::u32string_view special : {kStartOfText, kEndOfText}) {
      if (starts_with(text, at, special)) return special.size();
    }
  }
  if (size_t length = contraction_length(text, at)) return length;
  CharClass cls = unicode::char_class(text[at]);
  if (cls == CharClass::kSpace) return 0;
  if (cls == CharClass::kNumber && clip_pattern) return 1;
  return run_length(text, at, cls);
}

// The next match of the pattern at or after `at`, skipping what matches nothing (white space);
// empty at the end of the text. Pieces are taken one at a time, so that tokenising can stop early.
std::u32string_view next_piece(std::u32string_view text, size_t& at, bool clip_pattern) {
  while (at < text.size()) {
    const size_t start = at, length = piece_length(text, at, clip_pattern);
    at += std::max<size_t>(length, 1);
    if (length > 0) return text.substr(start, length);
  }
  return {};
}

// CLIPTokenizer's normalizer: NFC, then every run of white space -> " ", then lower-case.
std::u32string normalize(const std::u32string& text) {
  std::u32string composed = unicode::nfc(text);
  std::u32string out;
  out.reserve(composed.size());
  bool in_space = false;
  for (char32_t c : composed) {
    bool space = unicode::char_class(c) == CharClass::kSpace;
    if (space && !in_space) out += U' ';
    if (!space) unicode::append_lowercase(out, c);
    in_space = space;
  }
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error("cannot read tokenizer file " + path.string() + ": re-export the model folder");
  }
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int32_t vocab_id(const std::unordered_map<std::string, int64_t>& vocab, const std::string& token,
                 const std::filesystem::path& file) {
  auto it = vocab.find(token);
  if (it == vocab.end()) {
    throw Error("tokenizer file " + file.string() + " lacks the token '" + token +
                "': it is not a CLIP vocabulary, re-export the model folder");
  }
  return static_cast<int32_t>(it->second);
}

}  // namespace

ClipTokenizer ClipTokenizer::from_files(const std::filesystem::path& vocab_json,
                                        const std::filesystem::path& merges_txt, int64_t pad_id) {
  std::unordered_map<std::string, int64_t> vocab;
  try {
    vocab = nlohmann::json::parse(read_file(vocab_json)).get<std::unordered_map<std::string, int64_t>>();
  } catch (const nlohmann::json::exception& e) {
    throw Error("tokenizer file " + vocab_json.string() + " is not a JSON token -> id map (" + e.what() +
                "): re-export the model folder");
  }
  ClipTokenizer tokenizer;
  std::array<char32_t, 256> chars = byte_characters();
  for (int byte = 0; byte < 256; ++byte) {
    std::string token = to_utf8(std::u32string(1, chars[byte]));
    tokenizer.byte_ids_[byte] = vocab_id(vocab, token, vocab_json);
    tokenizer.byte_end_ids_[byte] = vocab_id(vocab, token + std::string(kEndOfWord), vocab_json);
  }
  for (const auto& [token, id] : vocab) {
    if (id < 0 || id > INT32_MAX)
      throw Error("tokenizer file " + vocab_json.string() + " has a bad id " + std::to_string(id));
    if (static_cast<size_t>(id) >= tokenizer.token_strings_.size()) tokenizer.token_strings_.resize(id + 1);
    tokenizer.token_strings_[id] = token;
  }
  tokenizer.bos_id_ = vocab_id(vocab, to_utf8(kStartOfText), vocab_json);
  tokenizer.eos_id_ = vocab_id(vocab, to_utf8(kEndOfText), vocab_json);
  tokenizer.pad_id_ = pad_id;
  if (const auto comma = vocab.find("," + std::string(kEndOfWord)); comma != vocab.end())
    tokenizer.comma_id_ = comma->second;
  tokenizer.special_tokens_ = {{std::u32string(kStartOfText), tokenizer.bos_id_},
                               {std::u32string(kEndOfText), tokenizer.eos_id_}};
  // The pad token is one of transformers' added special tokens too ("!" for SDXL's second).
  auto pad = std::find_if(vocab.begin(), vocab.end(), [&](const auto& entry) { return entry.second == pad_id; });
  if (pad == vocab.end()) {
    throw Error("pad id " + std::to_string(pad_id) + " is not in " + vocab_json.string() +
                ": fix the model manifest's pad_id");
  }
  if (pad_id != tokenizer.bos_id_ && pad_id != tokenizer.eos_id_) {
    tokenizer.special_tokens_.emplace_back(unicode::decode_utf8(pad->first), pad_id);
  }

  std::string merges = read_file(merges_txt);
  int32_t rank = 0;
  for (size_t start = 0; start < merges.size();) {
    size_t end = std::min(merges.find('\n', start), merges.size());
    std::string line = merges.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    size_t space = line.find(' ');
    if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
      throw Error("bad line '" + line + "' in " + merges_txt.string() +
                  ": expected 'left right', re-export the model folder");
    }
    std::string left = line.substr(0, space), right = line.substr(space + 1);
    // A repeated pair keeps its last rank, as in tokenizers' merge map.
    tokenizer.merges_[pair_key(vocab_id(vocab, left, vocab_json), vocab_id(vocab, right, vocab_json))] =
        Merge{rank++, vocab_id(vocab, left + right, vocab_json)};
  }
  return tokenizer;
}

std::u32string ClipTokenizer::token_text(int64_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= token_strings_.size()) return {};
  static const auto byte_of = [] {
    std::unordered_map<char32_t, char> bytes;
    const auto chars = byte_characters();
    for (int byte = 0; byte < 256; ++byte) bytes[chars[byte]] = static_cast<char>(byte);
    return bytes;
  }();
  std::string bytes;
  for (char32_t c : unicode::decode_utf8(token_strings_[id])) {
    const auto it = byte_of.find(c);
    if (it != byte_of.end()) bytes += it->second;
  }
  for (size_t at = bytes.find(kEndOfWord); at != std::string::npos; at = bytes.find(kEndOfWord, at))
    bytes.replace(at, kEndOfWord.size(), " ");
  std::u32string text = unicode::decode_utf8(bytes);
  const auto space = [](char32_t c) { return unicode::char_class(c) == CharClass::kSpace; };
  while (!text.empty() && space(text.back())) text.pop_back();
  size_t start = 0;
  while (start < text.size() && space(text[start])) ++start;
  return text.substr(start);
}

std::vector<int64_t> ClipTokenizer::tokenize(std::string_view text) const { return tokens(text, SIZE_MAX); }

std::vector<int64_t> ClipTokenizer::encode(std::string_view text, size_t max_length) const {
  if (max_length < 2) {
    throw Error("max_length " + std::to_string(max_length) + " leaves no room for BOS and EOS: use at least 2");
  }
  std::vector<int64_t> tokens = this->tokens(text, max_length - 2);
  tokens.resize(std::min(tokens.size(), max_length - 2));
  std::vector<int64_t> ids;
  ids.reserve(max_length);
  ids.push_back(bos_id_);
  ids.insert(ids.end(), tokens.begin(), tokens.end());
  ids.push_back(eos_id_);
  ids.resize(max_length, pad_id_);
  return ids;
}

std::vector<int64_t> ClipTokenizer::tokens(std::string_view text, size_t limit) const {
  std::u32string chars = unicode::decode_utf8(text);
  std::vector<int64_t> ids;
  // Special tokens split the raw text (leftmost, then longest); the rest is encoded in between.
  size_t segment_start = 0;
  for (size_t at = 0; at < chars.size() && ids.size() < limit;) {
    const std::pair<std::u32string, int64_t>* match = nullptr;
    for (const auto& special : special_tokens_) {
      if (starts_with(chars, at, special.first) && (!match || special.first.size() > match->first.size())) {
        match = &special;
      }
    }
    if (!match) {
      ++at;
      continue;
    }
    tokenize_segment(chars.substr(segment_start, at - segment_start), ids, limit);
    ids.push_back(match->second);
    at += match->first.size();
    segment_start = at;
  }
  if (ids.size() < limit) tokenize_segment(chars.substr(segment_start), ids, limit);
  return ids;
}

void ClipTokenizer::tokenize_segment(const std::u32string& segment, std::vector<int64_t>& ids, size_t limit) const {
  if (segment.empty()) return;
  const std::u32string text = normalize(segment);
  // ByteLevel splits CLIP's pieces once more with GPT-2's pattern: only a special token's text
  // that was not matched in the raw text (say "<|ENDOFTEXT|>") changes, into "<|", letters, "|>".
  // Tokens never span pieces, so once `limit` ids are there the rest of the text cannot change them.
  size_t at = 0;
  for (auto piece = next_piece(text, at, true); !piece.empty() && ids.size() < limit;
       piece = next_piece(text, at, true)) {
    size_t in = 0;
    for (auto word = next_piece(piece, in, false); !word.empty() && ids.size() < limit;
         word = next_piece(piece, in, false)) {
      bpe(to_utf8(word), ids);
    }
  }
}

// The reference algorithm (CLIP's and tokenizers') merges the lowest-ranked pair everywhere, left to
// right, then looks again: O(n) a merge, so O(n^2) for a long word. The same merges, in the same
// order, with a queue of candidate pairs: O(n log n).
void ClipTokenizer::bpe(const std::string& word, std::vector<int64_t>& ids) const {
  // The symbols as a linked list; a symbol is named by the position of its first byte.
  const size_t n = word.size();
  constexpr uint32_t kNone = UINT32_MAX;
  constexpr int32_t kMergedAway = -1;  // ids are never negative
  std::vector<int32_t> symbol(n);
  std::vector<uint32_t> next(n), previous(n);
  for (size_t i = 0; i < n; ++i) {
    const auto byte = static_cast<unsigned char>(word[i]);
    symbol[i] = i + 1 == n ? byte_end_ids_[byte] : byte_ids_[byte];
    next[i] = i + 1 == n ? kNone : static_cast<uint32_t>(i + 1);
    previous[i] = i == 0 ? kNone : static_cast<uint32_t>(i - 1);
  }
  // A pair that has a merge: lowest rank first, then leftmost. Entries go stale when a symbol of
  // the pair is merged away; they are dropped when they come up.
  struct Candidate {
    int32_t rank;
    uint32_t left;  // position of the left symbol
    int32_t left_symbol, right_symbol, merged;
    bool operator>(const Candidate& other) const { return rank != other.rank ? rank > other.rank : left > other.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  const auto add_pair = [&](uint32_t left) {
    if (left == kNone || next[left] == kNone) return;
    const auto it = merges_.find(pair_key(symbol[left], symbol[next[left]]));
    if (it != merges_.end())
      queue.push({it->second.rank, left, symbol[left], symbol[next[left]], it->second.merged_id});
  };
  for (uint32_t i = 0; i + 1 < n; ++i) add_pair(i);

  std::vector<uint32_t> merged_at;
  while (!queue.empty()) {
    // One rank a round, every occurrence left to right, as the reference does; the pairs a round
    // makes join the queue after it, as the reference only sees them on its next look.
    const int32_t rank = queue.top().rank;
    merged_at.clear();
    for (; !queue.empty() && queue.top().rank == rank; queue.pop()) {
      const Candidate& pair = queue.top();
      const uint32_t right = next[pair.left];
      // Stale: a symbol of the pair has changed or was merged away. A symbol only grows, so it
      // never takes back an old id.
      if (symbol[pair.left] != pair.left_symbol || right == kNone || symbol[right] != pair.right_symbol) continue;
      symbol[pair.left] = pair.merged;
      symbol[right] = kMergedAway;
      next[pair.left] = next[right];
      if (next[right] != kNone) previous[next[right]] = pair.left;
      merged_at.push_back(pair.left);
    }
    for (uint32_t at : merged_at) {
      add_pair(previous[at]);
      add_pair(at);
    }
  }
  for (uint32_t at = n == 0 ? kNone : 0; at != kNone; at = next[at]) ids.push_back(symbol[at]);
}

}  // namespace vsp::text
