#include "vsp/text/unicode.hpp"

#include <gtest/gtest.h>

#include <string>

namespace vsp::text::unicode {
namespace {

// Expected values are Python's: bytes.decode("utf-8", errors="replace"), unicodedata.normalize.
TEST(Unicode, DecodesUtf8ReplacingEachMaximalInvalidSubpart) {
  EXPECT_EQ(decode_utf8("\xe2\x82\xac\xf0\x9f\x98\x80"), U"\u20ac\U0001F600");
  EXPECT_EQ(decode_utf8("\xff"), U"\uFFFD");
  EXPECT_EQ(decode_utf8("a\xe2\x82"), U"a\uFFFD");  // cut short: one replacement
  EXPECT_EQ(decode_utf8("\xf0\x9f\x98"), U"\uFFFD");
  EXPECT_EQ(decode_utf8("\xe2(\xa1"), U"\uFFFD(\uFFFD");
  EXPECT_EQ(decode_utf8("\xc0\xaf"), U"\uFFFD\uFFFD");                      // overlong
  EXPECT_EQ(decode_utf8("\xed\xa0\x80"), U"\uFFFD\uFFFD\uFFFD");            // surrogate
  EXPECT_EQ(decode_utf8("\xf4\x90\x80\x80"), U"\uFFFD\uFFFD\uFFFD\uFFFD");  // above U+10FFFF
  EXPECT_EQ(decode_utf8(std::string("a\0b", 3)), std::u32string(U"a\0b", 3));
}

TEST(Unicode, EncodesUtf8) {
  std::string out;
  for (char32_t c : std::u32string(U"a\u00e9\u20ac\U0001F600")) append_utf8(out, c);
  EXPECT_EQ(out, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}

TEST(Unicode, ComposesCanonically) {
  EXPECT_EQ(nfc(U"e\u0301"), U"\u00e9");
  EXPECT_EQ(nfc(U"A\u030a"), U"\u00c5");
  EXPECT_EQ(nfc(U"\u212b"), U"\u00c5");                // singleton decomposition
  EXPECT_EQ(nfc(U"e\u0323\u0302"), U"\u1ec7");         // composes across a lower class
  EXPECT_EQ(nfc(U"q\u0307\u0323"), U"q\u0323\u0307");  // reordered, nothing to compose
  EXPECT_EQ(nfc(U"\u1100\u1161\u11a8"), U"\uac01");    // Hangul L V T
  EXPECT_EQ(nfc(U"\ufb01"), U"\ufb01");                // compatibility only: untouched
  EXPECT_EQ(nfc(U"\u0301e"), U"\u0301e");              // a leading mark composes with nothing
}

TEST(Unicode, LowerCasesLikeRust) {
  std::u32string out;
  for (char32_t c : std::u32string(U"AZ\u00c9\u0130\u03a3\u1e9e\u2126\U00010400")) append_lowercase(out, c);
  // İ -> i + combining dot; Σ -> σ with no final-sigma rule; ẞ -> ß; Ω (ohm) -> ω; Deseret.
  EXPECT_EQ(out, U"az\u00e9i\u0307\u03c3\u00df\u03c9\U00010428");
}

TEST(Unicode, ClassifiesLettersNumbersAndWhiteSpace) {
  EXPECT_EQ(char_class(U'a'), CharClass::kLetter);
  EXPECT_EQ(char_class(U'\u732b'), CharClass::kLetter);
  EXPECT_EQ(char_class(U'7'), CharClass::kNumber);
  EXPECT_EQ(char_class(U'\u00bd'), CharClass::kNumber);
  EXPECT_EQ(char_class(U'\u00a0'), CharClass::kSpace);
  EXPECT_EQ(char_class(U'\u3000'), CharClass::kSpace);
  EXPECT_EQ(char_class(U'\u001c'), CharClass::kOther);  // Python's isspace() says yes; \s says no
  EXPECT_EQ(char_class(U'\u200b'), CharClass::kOther);
  EXPECT_EQ(char_class(U'\u0301'), CharClass::kOther);
  EXPECT_EQ(char_class(U'!'), CharClass::kOther);
}

}  // namespace
}  // namespace vsp::text::unicode
