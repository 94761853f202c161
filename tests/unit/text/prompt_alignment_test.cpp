// Token alignment for prompt-to-prompt against the original algorithm's outputs
// (tests/python/fixtures_text_alignment.py, run over transformers' CLIPTokenizer by
// tests/python/p2p_reference.py) for a table of prompt pairs, under both SDXL tokenizers.
#include "vsp/text/prompt_alignment.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vsp/error.hpp"

namespace vsp::text {
namespace {

namespace fs = std::filesystem;
const fs::path kTextData = fs::path(VSP_TEST_DATA) / "text";
constexpr int kMaxLength = 77;

struct Named {
  std::string name;
  ClipTokenizer tokenizer;
};

const std::vector<Named>& tokenizers() {
  static const std::vector<Named> loaded{
      {"tokenizer", ClipTokenizer::from_files(kTextData / "tokenizer" / "vocab.json",
                                              kTextData / "tokenizer" / "merges.txt", 49407)},
      {"tokenizer_2", ClipTokenizer::from_files(kTextData / "tokenizer_2" / "vocab.json",
                                                kTextData / "tokenizer_2" / "merges.txt", 0)}};
  return loaded;
}

class PromptAlignmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kTextData / "alignment.json"))
      GTEST_SKIP() << "no alignment fixture: run .venv/bin/python tests/python/fixtures_text_alignment.py "
                   << VSP_TEST_DATA;
    cases = nlohmann::json::parse(std::ifstream(kTextData / "alignment.json")).at("cases");
  }
  nlohmann::json cases;
};

TEST_F(PromptAlignmentTest, WordPositionsMatchTheOriginal) {
  for (const auto& c : cases) {
    for (const auto& [name, tokenizer] : tokenizers()) {
      const auto& expected = c["tokenizers"][name];
      for (const auto* side : {"source", "target"}) {
        const std::string text = c[side];
        const auto words = expected[std::string(side) + "_words"].get<std::vector<std::vector<int>>>();
        ASSERT_EQ(words.size(), split_words(text).size()) << text;
        for (size_t w = 0; w < words.size(); ++w)
          EXPECT_EQ(word_positions(tokenizer, text, {static_cast<int>(w)}), words[w])
              << name << ": word " << w << " of \"" << text << "\"";
      }
    }
  }
}

TEST_F(PromptAlignmentTest, ReplaceMapperMatchesTheOriginal) {
  int compared = 0;
  for (const auto& c : cases) {
    for (const auto& [name, tokenizer] : tokenizers()) {
      const auto& expected = c["tokenizers"][name]["replace"];
      const std::string source = c["source"], target = c["target"];
      if (expected.is_null()) {
        if (split_words(source).size() != split_words(target).size()) {
          EXPECT_THROW(replace_mapper(tokenizer, source, target, kMaxLength), Error) << source << " -> " << target;
        }
        continue;
      }
      std::vector<float> want(kMaxLength * kMaxLength, 0.0f);
      for (const auto& entry : expected)
        want[entry[0].get<int>() * kMaxLength + entry[1].get<int>()] = entry[2].get<float>();
      const auto got = replace_mapper(tokenizer, source, target, kMaxLength);
      for (size_t i = 0; i < want.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-7) << name << ": \"" << source << "\" -> \"" << target << "\" at ("
                                           << i / kMaxLength << ", " << i % kMaxLength << ")";
      ++compared;
    }
  }
  EXPECT_GT(compared, 20);
}

TEST_F(PromptAlignmentTest, RefineMappingMatchesTheOriginal) {
  int compared = 0;
  for (const auto& c : cases) {
    for (const auto& [name, tokenizer] : tokenizers()) {
      const auto& expected = c["tokenizers"][name]["refine"];
      const std::string source = c["source"], target = c["target"];
      if (expected.is_null()) {
        EXPECT_THROW(refine_mapping(tokenizer, source, target, kMaxLength), Error) << source;
        continue;
      }
      const auto got = refine_mapping(tokenizer, source, target, kMaxLength);
      EXPECT_EQ(got.source_position, expected["mapper"].get<std::vector<int>>()) << name << ": " << target;
      EXPECT_EQ(got.alpha, expected["alphas"].get<std::vector<float>>()) << name << ": " << target;
      ++compared;
    }
  }
  EXPECT_GT(compared, 20);
}

TEST_F(PromptAlignmentTest, TokenTextIsTheDecodedToken) {
  const auto& tokenizer = tokenizers().front().tokenizer;
  const auto ids = tokenizer.tokenize("a café!");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(tokenizer.token_text(ids[0]), U"a");
  EXPECT_EQ(tokenizer.token_text(ids[1]), U"café");
  EXPECT_EQ(tokenizer.token_text(ids[2]), U"!");
  EXPECT_EQ(tokenizer.token_text(-1), U"");
}

TEST(PromptAlignment, SplitsWordsOnSingleSpaces) {
  EXPECT_EQ(split_words("a  cat"), (std::vector<std::string>{"a", "", "cat"}));
  EXPECT_EQ(word_indices("a cat and a dog", "a"), (std::vector<int>{0, 3}));
  EXPECT_TRUE(word_indices("a cat", "dog").empty());
}

}  // namespace
}  // namespace vsp::text
