#include "vsp/config/json_fields.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "vsp/error.hpp"

namespace vsp {
namespace {

using nlohmann::json;

std::string message_of(const std::function<void()>& read) {
  try {
    read();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(JsonFields, ReadsTypedFieldsAndFallbacks) {
  const json object = {{"steps", 30}, {"cfg", 7.5},      {"name", "fire"},
                       {"on", true},  {"seeds", {1, 2}}, {"warmup", {{"steps", 2}}}};
  const JsonFields fields(object, "fire.json");
  EXPECT_EQ(fields.integer("steps", 1, 1000), 30);
  EXPECT_EQ(fields.integer_or("absent", 50, 1, 1000), 50);
  EXPECT_EQ(fields.number("cfg", 0, 100), 7.5);
  EXPECT_EQ(fields.text("name"), "fire");
  EXPECT_TRUE(fields.flag_or("on", false));
  EXPECT_EQ(fields.integers_or("seeds", {}, 0, 10), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(fields.nested("warmup").integer("steps", 0, 10), 2);
}

TEST(JsonFields, EveryMessageHasOneShape) {
  const json object = {{"steps", 2.5}, {"name", 3}, {"cfg", -1}, {"warmup", {{"steps", "x"}}}};
  const JsonFields fields(object, "fire.json", "; fix the style file");
  EXPECT_EQ(message_of([&] { fields.integer("steps", 1, 1000); }),
            "fire.json: field 'steps' must be an integer from 1 to 1000, got 2.5; fix the style file");
  EXPECT_EQ(message_of([&] { fields.text("name"); }),
            "fire.json: field 'name' must be a string, got 3; fix the style file");
  EXPECT_EQ(message_of([&] { fields.number("cfg", 0, 100); }),
            "fire.json: field 'cfg' must be a number from 0 to 100, got -1; fix the style file");
  EXPECT_EQ(message_of([&] { fields.text("targets"); }), "fire.json: field 'targets' is missing; fix the style file");
  EXPECT_EQ(message_of([&] { fields.nested("warmup").integer("steps", 0, 9); }),
            "fire.json: field 'warmup.steps' must be an integer from 0 to 9, got \"x\"; fix the style file");
  EXPECT_EQ(message_of([&] {
              fields.choice_or("name", "a", {"a", "b"});
            }),
            "fire.json: field 'name' must be a string, got 3; fix the style file");
}

TEST(JsonFields, ShortensLongValuesAndRefusesBadUtf8) {
  const json object = {{"name", std::string(100, 'x')}, {"bytes", std::string("\xff\xfe")}};
  const JsonFields fields(object, "f.json");
  EXPECT_EQ(message_of([&] { fields.integer("name", 0, 1); }).size(),
            std::string("f.json: field 'name' must be an integer from 0 to 1, got ").size() + 60);
  EXPECT_NE(message_of([&] { fields.text("bytes"); }).find("must be a string"), std::string::npos);
}

}  // namespace
}  // namespace vsp
