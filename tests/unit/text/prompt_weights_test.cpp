#include "vsp/text/prompt_weights.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "vsp/error.hpp"

namespace vsp::text {
namespace {

namespace fs = std::filesystem;

using Pieces = std::vector<std::pair<std::string, double>>;

// The pieces as (text, weight), a BREAK as ("BREAK", -1) the way A1111 lists it.
Pieces parsed(const std::string& prompt) {
  Pieces out;
  for (const auto& piece : parse_prompt_weights(prompt))
    out.emplace_back(piece.text, piece.is_break ? -1 : piece.weight);
  return out;
}

void expect_pieces(const std::string& prompt, const Pieces& expected) {
  const auto got = parsed(prompt);
  ASSERT_EQ(got.size(), expected.size()) << prompt;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, expected[i].first) << prompt << " piece " << i;
    EXPECT_NEAR(got[i].second, expected[i].second, 1e-12) << prompt << " piece " << i;
  }
}

// A1111's own examples (parse_prompt_attention's docstring).
TEST(PromptWeights, ReadsA1111Examples) {
  expect_pieces("normal text", {{"normal text", 1.0}});
  expect_pieces("an (important) word", {{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}});
  expect_pieces("(unbalanced", {{"unbalanced", 1.1}});
  expect_pieces("\\(literal\\]", {{"(literal]", 1.0}});
  expect_pieces("(unnecessary)(parens)", {{"unnecessaryparens", 1.1}});
  expect_pieces("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", {{"a ", 1.0},
                                                                        {"house", 1.1 * 1.1 * 1.3},
                                                                        {" ", 1.1},
                                                                        {"on", 1.0},
                                                                        {" a ", 1.1},
                                                                        {"hill", 0.55},
                                                                        {", sun, ", 1.1},
                                                                        {"sky", 1.1 * 1.1 * 1.1 * 1.1},
                                                                        {".", 1.1}});
}

TEST(PromptWeights, ReadsWeightsBracketsAndStrayCharacters) {
  expect_pieces("(red: 1.4 ) car", {{"red", 1.4}, {" car", 1.0}});
  expect_pieces("[faded]", {{"faded", 1 / 1.1}});
  expect_pieces("(a:-0.5)", {{"a", -0.5}});
  expect_pieces("(a:.5)", {{"a", 0.5}});
  // Without an open bracket a weight, ")" and "]" are text, and ":" is always text.
  expect_pieces("ratio 16:9) x] y: z", {{"ratio 16:9) x] y: z", 1.0}});
  expect_pieces("a\\\\b \\c", {{"a\\b c", 1.0}});
  expect_pieces("", {{"", 1.0}});
}

TEST(PromptWeights, SplitsAtBreakWords) {
  expect_pieces("a cat BREAK a dog", {{"a cat", 1.0}, {"BREAK", -1}, {"a dog", 1.0}});
  expect_pieces("BREAK", {{"", 1.0}, {"BREAK", -1}, {"", 1.0}});
  // Only the capitalised word: not inside another word, not in lower case.
  expect_pieces("BREAKFAST break UNBREAKABLE", {{"BREAKFAST break UNBREAKABLE", 1.0}});
  expect_pieces("(a BREAK b)", {{"a", 1.1}, {"BREAK", -1}, {"b", 1.1}});
}

TEST(PromptWeights, RefusesAWeightThatIsNoNumber) {
  for (const char* prompt : {"(a:1.2.3)", "(a:.)", "(a:-.)"}) {
    try {
      parse_prompt_weights(prompt);
      ADD_FAILURE() << prompt << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("is not a number"), std::string::npos) << e.what();
    }
  }
}

TEST(PromptWeights, TellsSyntaxFromPlainText) {
  EXPECT_FALSE(uses_prompt_syntax("a photo of a cat: cute, 16:9"));
  EXPECT_FALSE(uses_prompt_syntax(""));
  EXPECT_TRUE(uses_prompt_syntax("a (cat)"));
  EXPECT_TRUE(uses_prompt_syntax("a \\(cat\\)"));
  EXPECT_TRUE(uses_prompt_syntax("a cat BREAK a dog"));
  EXPECT_EQ(without_escapes("a \\(cat\\) \\\\ [x]"), "a (cat) \\ [x]");
}

class PromptChunks : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path folder = fs::path(VSP_TEST_DATA) / "text" / "tokenizer_2";
    if (!fs::exists(folder / "vocab.json"))
      GTEST_FAIL() << "missing " << folder << ": run .venv/bin/python tests/python/fixtures_text.py " << VSP_TEST_DATA;
    tokenizer_ = ClipTokenizer::from_files(folder / "vocab.json", folder / "merges.txt", 0);
  }
  ClipTokenizer tokenizer_;
};

// A plain prompt within one chunk gets diffusers' ids exactly, BOS, EOS and pad included.
TEST_F(PromptChunks, PlainPromptsMatchTheTokenizer) {
  for (const char* prompt : {"a lighthouse at dusk, oil painting", ""}) {
    const auto chunks = prompt_chunks(tokenizer_, prompt, PromptSyntax::a1111, 77);
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(chunks[0].ids, tokenizer_.encode(prompt, 77));
    EXPECT_EQ(chunks[0].weights, std::vector<float>(77, 1.0f));
  }
}

TEST_F(PromptChunks, WeightsFollowTheirTokens) {
  const auto chunks = prompt_chunks(tokenizer_, "a (red:1.5) car", PromptSyntax::a1111, 77);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].ids, tokenizer_.encode("a red car", 77));
  EXPECT_EQ(chunks[0].weights[1], 1.0f);
  EXPECT_EQ(chunks[0].weights[2], 1.5f);
  EXPECT_EQ(chunks[0].weights[3], 1.0f);
}

TEST_F(PromptChunks, BreakAndLongPromptsMakeChunks) {
  const auto broken = prompt_chunks(tokenizer_, "a cat BREAK a dog", PromptSyntax::a1111, 77);
  ASSERT_EQ(broken.size(), 2u);
  EXPECT_EQ(broken[0].ids, tokenizer_.encode("a cat", 77));
  EXPECT_EQ(broken[1].ids, tokenizer_.encode("a dog", 77));

  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "cat ";
  const auto chunks = prompt_chunks(tokenizer_, long_prompt, PromptSyntax::a1111, 77);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1].ids[25], chunks[1].ids[1]);  // 100 = 75 + 25 tokens
  EXPECT_EQ(chunks[1].ids[26], tokenizer_.eos_id());
  EXPECT_EQ(chunks[1].ids[27], tokenizer_.pad_id());
  // Plain reading cuts the text at one chunk, as diffusers does.
  const auto plain = prompt_chunks(tokenizer_, long_prompt, PromptSyntax::plain, 77);
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].ids, tokenizer_.encode(long_prompt, 77));
}

// Plain reading resolves A1111's escapes (a text written for both readers reads the same words);
// verbatim keeps every character.
TEST_F(PromptChunks, PlainResolvesEscapesVerbatimKeepsThem) {
  EXPECT_EQ(prompt_chunks(tokenizer_, "a \\(cat\\)", PromptSyntax::plain, 77)[0].ids, tokenizer_.encode("a (cat)", 77));
  EXPECT_EQ(prompt_chunks(tokenizer_, "a \\(cat\\)", PromptSyntax::verbatim, 77)[0].ids,
            tokenizer_.encode("a \\(cat\\)", 77));
  EXPECT_EQ(prompt_chunks(tokenizer_, "a (cat:1.2)", PromptSyntax::plain, 77)[0].ids,
            tokenizer_.encode("a (cat:1.2)", 77));
}

// A full chunk breaks after its last comma when that comma is within 20 tokens of its end.
TEST_F(PromptChunks, FullChunksBreakAfterANearComma) {
  std::string prompt;
  for (int i = 0; i < 70; ++i) prompt += "cat ";
  prompt += ", dog dog dog dog dog dog dog dog";  // the comma is token 71 of 79
  const auto chunks = prompt_chunks(tokenizer_, prompt, PromptSyntax::a1111, 77);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].ids[71], tokenizer_.comma_id());
  EXPECT_EQ(chunks[0].ids[72], tokenizer_.eos_id());
  EXPECT_EQ(chunks[1].ids, tokenizer_.encode("dog dog dog dog dog dog dog dog", 77));
}

}  // namespace
}  // namespace vsp::text
