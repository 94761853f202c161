// Jobs files: defaults, names, model paths and the errors of a bad file (app/plan_test.cpp plans
// their jobs).
#include <gtest/gtest.h>

#include <unistd.h>
#include "../app/app_test_support.hpp"

#include <fstream>

#include "vsp/config/batch.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using testing::contains;

class BatchFileTest : public testing::ScratchTest {
 protected:
  // Writes `text` as root/jobs.json and loads it with the default model "/models/default".
  BatchFile load_text(const std::string& text) {
    std::ofstream(root / "jobs.json") << text;
    return load_batch_file(root / "jobs.json", "/models/default");
  }
  BatchFile load(const json& file) { return load_text(file.dump(2)); }
  // The message of the vsp::Error that loading the text (or the JSON) throws.
  std::string text_error(const std::string& text) {
    try {
      load_text(text);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "expected a vsp::Error";
    return "";
  }
  std::string error_of(const json& file) { return text_error(file.dump(2)); }
};

TEST_F(BatchFileTest, DefaultsMergeAndJobValuesWin) {
  const auto batch = load(json{{"defaults", {{"mode", "generate"}, {"steps", 4}, {"cfg", 3.0}, {"style", "fire"}}},
                               {"jobs", {{{"prompt", "a cat"}, {"steps", 9}}, {{"prompt", "a dog"}}}}});
  EXPECT_EQ(batch.path, root / "jobs.json");
  ASSERT_EQ(batch.jobs.size(), 2u);
  const json first = {{"mode", "generate"}, {"prompt", "a cat"}, {"steps", 9}, {"cfg", 3.0}};
  EXPECT_EQ(batch.jobs[0].job, first);  // no "style": generate does not take it
  const json second = {{"mode", "generate"}, {"prompt", "a dog"}, {"steps", 4}, {"cfg", 3.0}};
  EXPECT_EQ(batch.jobs[1].job, second);
  EXPECT_EQ(batch.jobs[0].mode, "generate");
  EXPECT_EQ(batch.jobs[1].index, 1u);
}

TEST_F(BatchFileTest, DefaultsApplyPerMode) {
  const auto batch = load(json{{"defaults", {{"mode", "generate"}, {"style", "fire"}, {"steps", 5}, {"seeds", 2}}},
                               {"jobs", {{{"prompt", "x"}}, {{"mode", "style"}, {"object", "a cat"}}}}});
  ASSERT_EQ(batch.jobs.size(), 2u);
  EXPECT_FALSE(batch.jobs[0].job.contains("style"));
  EXPECT_FALSE(batch.jobs[0].job.contains("seeds"));
  EXPECT_EQ(batch.jobs[1].mode, "style");
  const json style = {{"mode", "style"}, {"style", "fire"}, {"steps", 5}, {"seeds", {2}}, {"object", {"a cat"}}};
  EXPECT_EQ(batch.jobs[1].job, style);  // lists normalised after the merge
}

TEST_F(BatchFileTest, NamesDefaultToTheJobIndex) {
  const auto batch = load(json{
      {"jobs", {{{"mode", "generate"}}, {{"mode", "generate"}, {"name", "cat.v2_final-1"}}, {{"mode", "generate"}}}}});
  ASSERT_EQ(batch.jobs.size(), 3u);
  EXPECT_EQ(batch.jobs[0].name, "job-000");
  EXPECT_EQ(batch.jobs[1].name, "cat.v2_final-1");
  EXPECT_EQ(batch.jobs[2].name, "job-002");
  EXPECT_EQ(batch.jobs[1].job["name"], "cat.v2_final-1");
  EXPECT_EQ(batch.jobs[2].where(), "jobs[2] (\"job-002\"): ");
}

TEST_F(BatchFileTest, ModelIsRelativeToTheJobsFile) {
  const auto batch = load(json{{"defaults", {{"mode", "generate"}}},
                               {"jobs", {{{"model", "models/tiny"}}, json::object(), {{"model", "/abs/model"}}}}});
  ASSERT_EQ(batch.jobs.size(), 3u);
  EXPECT_EQ(batch.jobs[0].model, root / "models/tiny");
  EXPECT_EQ(batch.jobs[1].model, fs::path("/models/default"));
  EXPECT_EQ(batch.jobs[2].model, fs::path("/abs/model"));
  // A default model applies to every job that names none.
  const auto shared = load(json{{"defaults", {{"mode", "generate"}, {"model", "m"}}}, {"jobs", {json::object()}}});
  EXPECT_EQ(shared.jobs[0].model, root / "m");
  EXPECT_TRUE(contains(error_of(json{{"jobs", {{{"mode", "generate"}, {"model", 3}}}}}), "\"model\" must be"));
}

TEST_F(BatchFileTest, MalformedJsonGivesLineAndColumn) {
  const std::string line3 = R"(    {"mode": "generate", "prompt": "a cat",})";
  const std::string message = text_error("{\n  \"jobs\": [\n" + line3 + "\n  ]\n}\n");
  const std::string where =
      (root / "jobs.json").string() + ":3:" + std::to_string(line3.find('}') + 1) + ": invalid JSON";
  EXPECT_EQ(message.rfind(where, 0), 0u) << message << "\nwanted: " << where;
  EXPECT_FALSE(contains(message, "[json.exception")) << message;
  // The first line, first column.
  const std::string first = text_error("x");
  EXPECT_TRUE(contains(first, "jobs.json:1:1: invalid JSON")) << first;
}

TEST_F(BatchFileTest, MissingFileThrows) {
  try {
    load_batch_file(root / "none.json", "m");
    FAIL() << "expected a vsp::Error";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "cannot read jobs file")) << e.what();
  }
}

TEST_F(BatchFileTest, UnknownTopLevelField) {
  const std::string message = error_of(json{{"job", json::array()}});
  EXPECT_TRUE(contains(message, "unknown field \"job\"; did you mean \"jobs\"?")) << message;
  EXPECT_TRUE(contains(error_of(json::array({1})), "a jobs file is an object"));
}

TEST_F(BatchFileTest, JobsMissingOrEmpty) {
  for (const json& file :
       {json{{"defaults", json::object()}}, json{{"jobs", json::array()}}, json{{"jobs", 1}}, json::object()}) {
    const std::string message = error_of(file);
    EXPECT_TRUE(contains(message, "\"jobs\" must be a non-empty list")) << file.dump() << ": " << message;
  }
}

TEST_F(BatchFileTest, UnknownModeSuggestsClosest) {
  const std::string message = error_of(json{{"jobs", {{{"mode", "styel"}}}}});
  EXPECT_TRUE(contains(message, "jobs[0] (\"job-000\"): unknown mode \"styel\"; did you mean \"style\"?")) << message;
  EXPECT_TRUE(contains(message, "generate")) << message;
  const std::string missing = error_of(json{{"jobs", {{{"prompt", "x"}}}}});
  EXPECT_TRUE(contains(missing, "\"mode\" must name a mode")) << missing;
}

TEST_F(BatchFileTest, UnknownDefaultsFieldSuggestsClosest) {
  const std::string message = error_of(json{{"defaults", {{"stesp", 3}}}, {"jobs", {{{"mode", "generate"}}}}});
  EXPECT_TRUE(contains(message, "defaults: unknown field \"stesp\"; did you mean \"steps\"?")) << message;
  const std::string name = error_of(json{{"defaults", {{"name", "x"}}}, {"jobs", {{{"mode", "generate"}}}}});
  EXPECT_TRUE(contains(name, "a name belongs to one job")) << name;
  EXPECT_TRUE(contains(error_of(json{{"defaults", 1}, {"jobs", {{{"mode", "generate"}}}}}), "must be an object"));
}

TEST_F(BatchFileTest, UnknownJobFieldNamesTheJob) {
  const std::string message = error_of(json{{"jobs", {{{"mode", "generate"}}, {{"mode", "generate"}, {"sed", 1}}}}});
  EXPECT_TRUE(contains(message, "jobs.json: jobs[1] (\"job-001\"): unknown field \"sed\"; did you mean \"seed\"?"))
      << message;
}

TEST_F(BatchFileTest, BadNames) {
  const std::string slash = error_of(json{{"jobs", {{{"mode", "generate"}, {"name", "a/b"}}}}});
  EXPECT_TRUE(contains(slash, "\"name\" must be 1 to 200 letters, digits")) << slash;
  EXPECT_TRUE(contains(slash, "(\"a/b\")")) << slash;
  for (const std::string& bad :
       std::vector<std::string>{"", ".hidden", "a b", "-x", "..", "a\\b", std::string(201, 'a')})
    EXPECT_THROW(load(json{{"jobs", {{{"mode", "generate"}, {"name", bad}}}}}), Error) << bad;
  EXPECT_TRUE(contains(error_of(json{{"jobs", {{{"mode", "generate"}, {"name", 5}}}}}), "\"name\" must be a string"));
}

TEST_F(BatchFileTest, JobThatIsNotAnObject) {
  const std::string message = error_of(json{{"jobs", {json{{"mode", "generate"}}, json("a cat")}}});
  EXPECT_TRUE(contains(message, "jobs[1] (\"job-001\"): a job must be an object, got \"a cat\"")) << message;
}

TEST_F(BatchFileTest, BadValueInDefaultsIsCaught) {
  const std::string message =
      error_of(json{{"defaults", {{"mode", "generate"}, {"steps", 0}}}, {"jobs", {json::object()}}});
  EXPECT_TRUE(contains(message, "\"steps\" must be an integer >= 1, got 0")) << message;
}

}  // namespace
}  // namespace vsp::app
