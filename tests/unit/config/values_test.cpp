// Reading numbers and text exactly (vsp/values.hpp): decimal only, no rounding, wrapping or
// clamping, finite numbers, UTF-8.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <string>
#include <vector>

#include "vsp/values.hpp"

namespace vsp::values {
namespace {

using nlohmann::json;

TEST(Values, DecimalIntegersOnly) {
  EXPECT_EQ(parse_decimal_integer("00042", 0, 100), 42);  // not octal 34
  EXPECT_EQ(parse_decimal_integer("010", 0, 100), 10);    // not octal 8
  EXPECT_EQ(parse_decimal_integer("-3", -5, 5), -3);
  EXPECT_EQ(parse_decimal_integer("+7", 0, 9), 7);
  EXPECT_EQ(parse_decimal_integer("4294967295", 0, kMaxSeed), kMaxSeed);
  for (const char* bad :
       {"0x10", "1e3", "2.5", "", "-", "12a", " 1", "4294967296", "18446744073709551616", "99999999999999999999999"})
    EXPECT_FALSE(parse_decimal_integer(bad, 0, kMaxSeed)) << bad;
  EXPECT_FALSE(parse_decimal_integer("-1", 0, 10));
}

TEST(Values, FiniteDecimalNumbersOnly) {
  EXPECT_EQ(parse_decimal_number("7.5"), 7.5);
  EXPECT_EQ(parse_decimal_number("-0.5"), -0.5);
  EXPECT_EQ(parse_decimal_number("1e-3"), 1e-3);
  EXPECT_EQ(parse_decimal_number(".5"), 0.5);
  for (const char* bad : {"nan", "inf", "-inf", "1e400", "0x10", "", ".", "1e", "1.2.3", "5 "})
    EXPECT_FALSE(parse_decimal_number(bad)) << bad;
}

TEST(Values, JsonIntegersAreNeverRoundedOrWrapped) {
  EXPECT_EQ(integer_in(json(5), 0, 10), 5);
  EXPECT_FALSE(integer_in(json(1.5), 0, 10));
  EXPECT_FALSE(integer_in(json(2.0), 0, 10));  // a float is not an integer, even a whole one
  EXPECT_FALSE(integer_in(json(-1), 0, kMaxSeed));
  EXPECT_FALSE(integer_in(json(4294967297ull), 0, INT32_MAX));
  EXPECT_FALSE(integer_in(json(18446744073709551615ull), 0, INT64_MAX));
  EXPECT_FALSE(integer_in(json("3"), 0, 10));
  EXPECT_EQ(number_in(json(7), 0, 100), 7.0);
  EXPECT_FALSE(number_in(json(std::nan("")), 0, 100));
  EXPECT_FALSE(number_in(json(1e300), 0, 100));
}

TEST(Values, Utf8) {
  EXPECT_TRUE(valid_utf8("caf\xc3\xa9 \xf0\x9f\x8e\xa8"));
  EXPECT_FALSE(valid_utf8("caf\xe9"));           // Latin-1
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // cut short
  const json job = {{"prompt", "ok"}, {"object", {"fine", std::string("bad\xff")}}};
  EXPECT_EQ(find_non_utf8(job), "/object/1");
  EXPECT_FALSE(find_non_utf8(json{{"a", "b"}}));
}

TEST(Values, OutputNames) {
  EXPECT_TRUE(valid_output_name("cat-1_v2.final"));
  for (const std::string& bad :
       std::vector<std::string>{"", "../escape", ".hidden", "a/b", "-x", std::string(201, 'a'), "caf\xc3\xa9"})
    EXPECT_FALSE(valid_output_name(bad)) << bad;
  EXPECT_TRUE(valid_output_name(std::string(200, 'a')));
}

}  // namespace
}  // namespace vsp::values
