#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vsp::text {

// CLIP byte-level BPE, exactly as transformers' CLIPTokenizer (tokenizers backend) encodes:
// NFC, whitespace runs -> " ", lower-case, the CLIP pre-tokenisation regex, byte-level BPE with
// "</w>" word ends, BOS 49406 / EOS 49407, truncation and padding to max_length.
class ClipTokenizer {
 public:
  // vocab.json and merges.txt of a CLIP tokenizer folder (scripts/export.py writes both); pad_id is the
  // tokenizer's own pad token id (49407 for SDXL's first tokenizer, 0 "!" for the second).
  static ClipTokenizer from_files(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt,
                                  int64_t pad_id);

  // BOS, tokens (truncated so that BOS + tokens + EOS fit), EOS, then pad_id up to max_length.
  // Invalid UTF-8 is read as U+FFFD, like Python's errors="replace"; max_length < 2 throws.
  std::vector<int64_t> encode(std::string_view text, size_t max_length = 77) const;
  // The BPE ids of the text alone, with no BOS/EOS, no truncation and no padding.
  std::vector<int64_t> tokenize(std::string_view text) const;

  // A token's text as transformers' decode([id]) gives it: its bytes as UTF-8 (invalid -> U+FFFD),
  // "</w>" as a space, white space stripped. Unknown ids give "".
  std::u32string token_text(int64_t id) const;

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  // The id of "," ending a word, where A1111's prompt chunks prefer to break; -1 if the vocabulary lacks it.
  int64_t comma_id() const { return comma_id_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged_id;
  };

  // The BPE ids of text, stopping once there are at least `limit`: the first `limit` are exact,
  // and a long prompt costs no more than the part that survives truncation.
  std::vector<int64_t> tokens(std::string_view text, size_t limit) const;
  // Normalises, pre-tokenises and BPE-encodes text that holds no special token, until ids holds
  // `limit` ids.
  void tokenize_segment(const std::u32string& segment, std::vector<int64_t>& ids, size_t limit) const;
  // One pre-token's UTF-8 bytes -> BPE ids, in O(n log n) for n bytes.
  void bpe(const std::string& word, std::vector<int64_t>& ids) const;

  std::vector<std::string> token_strings_;      // vocab entries by id (byte-level characters)
  std::array<int32_t, 256> byte_ids_{};         // each byte's character
  std::array<int32_t, 256> byte_end_ids_{};     // the same with "</w>", ending a word
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  // Matched in the raw text, before normalisation, like transformers' added special tokens.
  std::vector<std::pair<std::u32string, int64_t>> special_tokens_;
  int64_t bos_id_ = 49406;
  int64_t eos_id_ = 49407;
  int64_t pad_id_ = 49407;
  int64_t comma_id_ = -1;
};

}  // namespace vsp::text
