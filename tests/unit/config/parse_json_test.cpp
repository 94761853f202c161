// parse_json: positions in messages, numbers out of range, and the nesting limit that keeps deep
// input from overflowing the stack.
#include "vsp/config/parse_json.hpp"

#include <gtest/gtest.h>

#include <string>

#include "../app/app_test_support.hpp"
#include "vsp/error.hpp"

namespace vsp {
namespace {

using app::testing::contains;
using app::testing::error_of;

std::string nested(int levels, const std::string& inside = "") {
  return std::string(levels, '[') + inside + std::string(levels, ']');
}

TEST(ParseJson, ParsesValidText) {
  const auto value = parse_json(R"({"a": [1, 2.5, "x", null, true], "b": {"c": {}}})", "f.json");
  EXPECT_EQ(value["a"][1], 2.5);
  EXPECT_TRUE(value["b"]["c"].is_object());
}

TEST(ParseJson, ErrorsNameTheFileLineAndColumn) {
  const std::string message = error_of([] { parse_json("{\n  \"a\": 1,\n}", "dir/f.json"); });
  EXPECT_EQ(message.rfind("dir/f.json:3:1: invalid JSON: ", 0), 0u) << message;
  EXPECT_FALSE(contains(message, "[json.exception")) << message;
  EXPECT_TRUE(contains(error_of([] { parse_json("", "f.json"); }), "f.json:1:1: invalid JSON"));
}

TEST(ParseJson, NumberTooLargeForADoubleIsAnError) {
  const std::string message = error_of([] { parse_json("[1e400]", "f.json"); });
  EXPECT_EQ(message, "f.json: invalid JSON: number overflow parsing '1e400'");
}

TEST(ParseJson, NestingUpToTheLimitIsFine) {
  const auto value = parse_json(nested(kMaxJsonDepth, "1"), "f.json");
  EXPECT_EQ(value.dump(), nested(kMaxJsonDepth, "1"));
}

TEST(ParseJson, DeeperNestingIsRefusedWithoutRecursing) {
  for (const int levels : {kMaxJsonDepth + 1, 100000, 1000000}) {
    const std::string message = error_of([&] { parse_json(nested(levels), "deep.json"); });
    EXPECT_TRUE(contains(message, "deep.json: invalid JSON: nested more than 64 levels deep")) << message;
  }
  const std::string objects = error_of([] {
    std::string text;
    for (int i = 0; i < 100000; ++i) text += "{\"a\":";
    parse_json(text + "1" + std::string(100000, '}'), "deep.json");
  });
  EXPECT_TRUE(contains(objects, "nested more than 64 levels deep")) << objects;
}

}  // namespace
}  // namespace vsp
