#include "vsp/text/clip_tokenizer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "vsp/error.hpp"
#include "vsp/text/unicode.hpp"

namespace vsp::text {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int64_t>;

const fs::path kTextData = fs::path(VSP_TEST_DATA) / "text";
constexpr int64_t kBos = 49406, kEos = 49407;

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return bytes;
}

// The text with control and non-ASCII characters as \u{...} (invalid UTF-8 shows as U+FFFD).
std::string printable(const std::string& bytes) {
  std::ostringstream out;
  for (char32_t c : unicode::decode_utf8(bytes)) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out << static_cast<char>(c);
    } else {
      out << "\\u{" << std::hex << std::uppercase << static_cast<uint32_t>(c) << std::dec << "}";
    }
  }
  return out.str();
}

// The ids without the trailing padding, which only makes failure messages long.
std::string describe(const Ids& ids, int64_t pad_id) {
  size_t end = ids.size();
  while (end > 0 && ids[end - 1] == pad_id) --end;
  std::ostringstream out;
  for (size_t i = 0; i < end; ++i) out << (i ? " " : "") << ids[i];
  if (end < ids.size()) out << " + " << ids.size() - end << " x pad " << pad_id;
  return out.str();
}

ClipTokenizer load_tokenizer(const std::string& folder, int64_t pad_id) {
  return ClipTokenizer::from_files(kTextData / folder / "vocab.json", kTextData / folder / "merges.txt", pad_id);
}

// Loaded once per process: building a tokenizer and parsing the expectations take a moment.
const std::vector<ClipTokenizer>& tokenizers() {
  static const std::vector<ClipTokenizer> loaded{load_tokenizer("tokenizer", kEos), load_tokenizer("tokenizer_2", 0)};
  return loaded;
}

const nlohmann::json& expected() {
  static const nlohmann::json loaded = nlohmann::json::parse(std::ifstream(kTextData / "expected.json"));
  return loaded;
}

class ClipTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* file : {"expected.json", "tokenizer/vocab.json", "tokenizer_2/merges.txt"}) {
      if (!fs::exists(kTextData / file)) {
        GTEST_FAIL() << "missing " << (kTextData / file).string()
                     << ": run .venv/bin/python tests/python/fixtures_text.py " << VSP_TEST_DATA;
      }
    }
  }
  const ClipTokenizer& first() const { return tokenizers().at(0); }
  const ClipTokenizer& second() const { return tokenizers().at(1); }
};

// Every prompt, both tokenizers, against transformers' input_ids.
TEST_F(ClipTokenizerTest, MatchesTransformersOnEveryPrompt) {
  const auto& prompts = expected()["prompts"];
  size_t max_length = expected()["max_length"].get<size_t>();
  for (size_t t = 0; t < tokenizers().size(); ++t) {
    ASSERT_EQ(expected()["tokenizers"][t]["pad_id"].get<int64_t>(), tokenizers()[t].pad_id());
  }
  ASSERT_GE(prompts.size(), 500u);
  int mismatches = 0;
  for (const auto& prompt : prompts) {
    std::string text = from_hex(prompt["hex"].get<std::string>());
    for (size_t t = 0; t < tokenizers().size(); ++t) {
      Ids want = prompt["ids"][t].get<Ids>();
      Ids got = tokenizers()[t].encode(text, max_length);
      if (got == want) continue;
      if (++mismatches <= 10) {
        int64_t pad = tokenizers()[t].pad_id();
        ADD_FAILURE() << "tokenizer " << t + 1 << " differs on \"" << printable(text) << "\"\n  want "
                      << describe(want, pad) << "\n  got  " << describe(got, pad);
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << "prompts encoded differently from transformers (first 10 above)";
}

// Probe strings over nearly every code point: normalisation and character classes.
TEST_F(ClipTokenizerTest, MatchesTransformersOnTheUnicodeSweep) {
  int mismatches = 0;
  for (const auto& probe : expected()["sweep"]) {
    std::string text = from_hex(probe["hex"].get<std::string>());
    Ids want = probe["ids"].get<Ids>();
    Ids got = first().tokenize(text);
    if (got == want) continue;
    if (++mismatches <= 5) {
      ADD_FAILURE() << "sweep string differs: \"" << printable(text) << "\"\n  want " << describe(want, -1)
                    << "\n  got  " << describe(got, -1);
    }
  }
  EXPECT_EQ(mismatches, 0) << "sweep strings tokenized differently from transformers (first 5 above)";
}

TEST_F(ClipTokenizerTest, KnownIdsForAPhotoOfACat) {
  EXPECT_EQ(first().tokenize("a photo of a cat"), (Ids{320, 1125, 539, 320, 2368}));
  Ids ids = first().encode("a photo of a cat");
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(Ids(ids.begin(), ids.begin() + 7), (Ids{kBos, 320, 1125, 539, 320, 2368, kEos}));
  EXPECT_EQ(ids.back(), kEos);
}

TEST_F(ClipTokenizerTest, EachTokenizerPadsWithItsOwnId) {
  EXPECT_EQ(first().pad_id(), kEos);
  EXPECT_EQ(second().pad_id(), 0);
  EXPECT_EQ(second().bos_id(), kBos);
  EXPECT_EQ(second().eos_id(), kEos);
  EXPECT_EQ(second().encode("a cat", 6), (Ids{kBos, 320, 2368, kEos, 0, 0}));
  EXPECT_EQ(first().encode("", 4), (Ids{kBos, kEos, kEos, kEos}));
}

TEST_F(ClipTokenizerTest, TruncationKeepsBosTheFirstTokensAndEos) {
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "cat ";
  Ids ids = first().encode(long_prompt);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids.front(), kBos);
  EXPECT_EQ(ids[75], 2368);
  EXPECT_EQ(ids.back(), kEos);
  EXPECT_EQ(first().tokenize(long_prompt).size(), 100u);
}

TEST_F(ClipTokenizerTest, SpecialTokensInTheTextAndTheSecondTokenizersBang) {
  EXPECT_EQ(first().tokenize("<|startoftext|>cat<|endoftext|>"), (Ids{kBos, 2368, kEos}));
  EXPECT_EQ(first().tokenize("cat!"), (Ids{2368, 256}));  // "!</w>"
  EXPECT_EQ(second().tokenize("cat!"), (Ids{2368, 0}));   // "!" is its pad, an added token
}

TEST_F(ClipTokenizerTest, InvalidUtf8IsReadAsReplacementCharacters) {
  EXPECT_EQ(first().tokenize("\xff"), first().tokenize("\xef\xbf\xbd"));
  EXPECT_EQ(first().tokenize("a\xe2\x82 b"), first().tokenize("a\xef\xbf\xbd b"));
  EXPECT_NO_THROW(first().encode(std::string("\xc0\x80\xed\xa0\x80\xf4\x90", 7)));
}

TEST_F(ClipTokenizerTest, RejectsAMaxLengthWithoutRoomForBosAndEos) {
  EXPECT_THROW(first().encode("cat", 1), Error);
  EXPECT_EQ(first().encode("cat", 2), (Ids{kBos, kEos}));
}

TEST_F(ClipTokenizerTest, AThousandPromptsTakeWellUnderASecond) {
  const std::vector<std::string> parts{
      "a photo of", "an astronaut", "riding a horse,", "it's",    "8k!!",          "Café", "日本の猫",
      "🐱🚀",         "ΟΔΟΣ",         "Москва",          "e\u0301", "<|endoftext|>", "\t"};
  std::vector<std::string> prompts(1000);
  for (size_t i = 0; i < prompts.size(); ++i) {
    for (size_t j = 0; j < 5 + i % 40; ++j) prompts[i] += parts[(i * 7 + j * 3) % parts.size()] + " ";
  }
  first();  // loading is not part of the timing
  auto start = std::chrono::steady_clock::now();
  for (const std::string& prompt : prompts) first().encode(prompt);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0);
}

// BPE as CLIP's reference code writes it, on strings: merge the lowest-ranked pair everywhere, left
// to right, and look again. Quadratic, so only for words of a few KB.
class ReferenceBpe {
 public:
  explicit ReferenceBpe(const fs::path& folder)
      : vocab_(nlohmann::json::parse(std::ifstream(folder / "vocab.json")).get<std::map<std::string, int64_t>>()) {
    std::ifstream merges(folder / "merges.txt");
    std::string line;
    for (int rank = 0; std::getline(merges, line);) {
      if (line.empty() || line.rfind("#version", 0) == 0) continue;
      ranks_[line] = rank++;  // "left right"; a repeated pair keeps its last rank
    }
  }

  Ids encode_word(const std::string& word) const {
    std::vector<std::string> symbols;
    for (unsigned char byte : word) symbols.push_back(byte_character(byte));
    symbols.back() += "</w>";
    while (symbols.size() > 1) {
      auto best = ranks_.end();
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        auto it = ranks_.find(symbols[i] + " " + symbols[i + 1]);
        if (it != ranks_.end() && (best == ranks_.end() || it->second < best->second)) best = it;
      }
      if (best == ranks_.end()) break;
      const std::string left = best->first.substr(0, best->first.find(' '));
      const std::string right = best->first.substr(left.size() + 1);
      std::vector<std::string> merged;
      for (size_t i = 0; i < symbols.size(); ++i) {
        if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
          merged.push_back(left + right);
          ++i;
        } else {
          merged.push_back(symbols[i]);
        }
      }
      symbols.swap(merged);
    }
    Ids ids;
    for (const std::string& symbol : symbols) ids.push_back(vocab_.at(symbol));
    return ids;
  }

 private:
  // GPT-2's byte -> printable character map, as UTF-8.
  static std::string byte_character(unsigned char byte) {
    const auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
    int unprintable_before = 0;
    for (int b = 0; b < byte; ++b) unprintable_before += printable(b) ? 0 : 1;
    std::string utf8;
    unicode::append_utf8(utf8, printable(byte) ? byte : 256 + unprintable_before);
    return utf8;
  }

  std::map<std::string, int64_t> vocab_;
  std::unordered_map<std::string, int> ranks_;
};

// Lower-case letters from a fixed LCG: a word with many different pairs, the costly case for BPE.
std::string random_word(size_t length) {
  std::string word;
  uint32_t state = 1;
  for (size_t i = 0; i < length; ++i) {
    state = state * 1103515245u + 12345u;
    word += static_cast<char>('a' + (state >> 16) % 26);
  }
  return word;
}

// Each word is one pre-token, so tokenize() gives its BPE alone.
TEST_F(ClipTokenizerTest, FastBpeMergesExactlyAsTheReferenceOnLongWords) {
  const ReferenceBpe reference(kTextData / "tokenizer");
  std::string sentence;
  while (sentence.size() < 4000) sentence += "thequickbrownfoxjumpsoverthelazydog";
  std::string punctuation;
  for (int i = 0; i < 3000; ++i) punctuation += "!?.,;:-_*#@&%$"[(i * 7 + i / 5) % 14];
  for (const std::string& word : {random_word(3000), random_word(5000).substr(1000), std::string(3001, 'a'),
                                  std::string(2048, 'z'), sentence, punctuation, std::string("x")}) {
    EXPECT_EQ(first().tokenize(word), reference.encode_word(word))
        << word.substr(0, 40) << "... (" << word.size() << " bytes)";
  }
}

// BPE is O(n log n) in a word's length (a 1 MB word took minutes when it was O(n^2)), and a long
// prompt is tokenised only as far as truncation keeps. The bound is loose on purpose: it catches a
// return to quadratic time, not a slow machine.
TEST_F(ClipTokenizerTest, MegabyteInputsTakeWellUnderTenSeconds) {
  std::string prompt;
  for (int i = 0; prompt.size() < (1 << 20); ++i)
    prompt += "a photo of an astronaut on a horse " + std::to_string(i) + ", ";
  const std::string word = random_word(1 << 20);
  first();  // loading is not part of the timing
  const auto start = std::chrono::steady_clock::now();
  const Ids word_ids = first().encode(word);
  const Ids prompt_ids = first().encode(prompt);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 10.0);
  // Stopping early changes nothing: the first 75 tokens of the whole prompt are those of its start.
  EXPECT_EQ(prompt_ids, first().encode(prompt.substr(0, 1000)));
  EXPECT_EQ(word_ids.back(), kEos);
}

TEST(ClipTokenizerFiles, MissingFilesAreAUserError) {
  EXPECT_THROW(ClipTokenizer::from_files("/nonexistent/vocab.json", "/nonexistent/merges.txt", 49407), Error);
}

}  // namespace
}  // namespace vsp::text
