#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vsp::text {

// CLIP byte-level BPE, exactly as transformers' CLIPTokenizer (tokenizers backend) encodes:
// NFC, whitespace runs -> " ", lower-case, the CLIP pre-tokenisation regex, byte-level BPE with
// "</w>" word ends, BOS 49406 / EOS 49407, truncation and padding to max_length.
class ClipTokenizer {
 public:
  // vocab.json and merges.txt as written by transformers' save_pretrained; pad_id is the
  // tokenizer's own pad token id (49407 for SDXL's first tokenizer, 0 "!" for the second).
  static ClipTokenizer from_files(const std::filesystem::path& vocab_json,
                                  const std::filesystem::path& merges_txt, int64_t pad_id);

  // BOS, tokens (truncated so that BOS + tokens + EOS fit), EOS, then pad_id up to max_length.
  std::vector<int64_t> encode(std::string_view text, size_t max_length = 77) const;
  // The BPE ids of the text alone, with no BOS/EOS, no truncation and no padding.
  std::vector<int64_t> tokenize(std::string_view text) const;

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }

 private:
  std::vector<std::string> bpe(const std::string& word) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int> merge_ranks_;  // "left right" -> rank
  int64_t bos_id_ = 49406;
  int64_t eos_id_ = 49407;
  int64_t pad_id_ = 49407;
};

}  // namespace vsp::text
