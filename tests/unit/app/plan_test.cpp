// The outputs a job plans against the tiny model's manifest (no model is loaded).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vsp/app/jobs.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Planning against the tiny model's manifest.
class PlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { manifest = new models::Manifest(models::Manifest::load(VSP_TEST_DATA "/tiny")); }
  static void TearDownTestSuite() {
    delete manifest;
    manifest = nullptr;
  }
  static std::vector<std::string> files(const PlannedJob& job) {
    std::vector<std::string> out;
    for (const auto& output : job.outputs) out.push_back(output.file.generic_string());
    return out;
  }
  static models::Manifest* manifest;
};
models::Manifest* PlanTest::manifest = nullptr;

TEST_F(PlanTest, GenerateFilesAreNamedBySeed) {
  const json job = {{"mode", "generate"}, {"prompt", "a cat"}, {"seed", 7}, {"steps", 3}};
  const auto planned = find_mode("generate", "").plan(job, PlanContext{*manifest, "name", fs::path("/tmp"), 0});
  EXPECT_EQ(files(*planned), std::vector<std::string>{"name_s7.png"});
  ASSERT_EQ(planned->outputs.size(), 1u);
  const json& metadata = planned->outputs[0].metadata;
  EXPECT_EQ(metadata["job"], job);
  EXPECT_EQ(metadata["prompt"], "a cat");
  EXPECT_EQ(metadata["seed"], 7);
  EXPECT_EQ(metadata["steps"], 3);
  EXPECT_EQ(metadata["width"], manifest->default_size);
  EXPECT_TRUE(metadata["negative"].is_null());
  EXPECT_EQ(planned->job, job);
  EXPECT_EQ(planned->rows, 1);
  EXPECT_EQ(planned->work, 3);
}

TEST_F(PlanTest, GenerateNumberedFilesForSeveralImages) {
  const json job = {{"mode", "generate"}, {"seed", 7}, {"num", 2}, {"steps", 5}};
  const auto planned = find_mode("generate", "").plan(job, PlanContext{*manifest, "name", fs::path("/tmp"), 0});
  EXPECT_EQ(files(*planned), (std::vector<std::string>{"name_s7_0.png", "name_s7_1.png"}));
  ASSERT_EQ(planned->outputs.size(), 2u);
  EXPECT_EQ(planned->outputs[0].metadata["index"], 0);
  EXPECT_EQ(planned->outputs[1].metadata["index"], 1);
  EXPECT_EQ(planned->outputs[1].metadata["job"], job);
  EXPECT_EQ(planned->rows, 2);
  EXPECT_EQ(planned->work, 10);
  // On the command line there is no name prefix.
  const auto unnamed = find_mode("generate", "").plan({{"seed", 3}}, PlanContext{*manifest, "", fs::path("/tmp"), 0});
  EXPECT_EQ(files(*unnamed), std::vector<std::string>{"s3.png"});
}

TEST_F(PlanTest, GenerateRejectsSizeTheModelCannotMake) {
  EXPECT_THROW(find_mode("generate", "").plan({{"width", 65}}, PlanContext{*manifest, "name", fs::path("/tmp"), 0}),
               Error);
}

TEST_F(PlanTest, StyleJobWritesAFolder) {
  const json job = {{"mode", "style"},
                    {"style", "flames"},
                    {"object", {"a cat"}},
                    {"seeds", {3}},
                    {"styles", VSP_SOURCE_DIR "/configs/styles"}};
  const auto planned = find_mode("style", "").plan(job, PlanContext{*manifest, "name", fs::path("/tmp"), 0});
  const auto names = files(*planned);
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0], "name/reference.png");
  EXPECT_EQ(names[1].rfind("name/00_", 0), 0u) << names[1];
  EXPECT_EQ(names[1], "name/00_a-cat-made-of-fire-roaring-flames-glowin_s3.png");
  EXPECT_EQ(names[2], "name/grid.png");
  const json& target = planned->outputs[1].metadata;
  EXPECT_EQ(target["seed"], 3);
  EXPECT_EQ(target["prompt"], "a cat made of fire, roaring flames, glowing embers, sparks, dark background");
  EXPECT_EQ(target["job"], job);
  EXPECT_EQ(planned->outputs[0].metadata["seed"], 100);  // the style's reference seed
  EXPECT_EQ(planned->rows, 2);
}

// --template: a shipped template on both sides, with its negative, for any object.
TEST_F(PlanTest, NamedTemplateAppliesToBothSidesWithItsNegative) {
  const json job = {{"mode", "style"},
                    {"style", "flames"},
                    {"template", "low-poly"},
                    {"object", {"a frog"}},
                    {"styles", VSP_SOURCE_DIR "/configs/styles"}};
  const auto planned = find_mode("style", "").plan(job, PlanContext{*manifest, "name", fs::path("/tmp"), 0});
  const json& reference = planned->outputs[0].metadata;
  const std::string tail = " . low-poly game art, polygon mesh, jagged, blocky, wireframe edges, centered composition";
  EXPECT_EQ(reference["prompt"], "low-poly style of a horse" + tail);  // flames' reference object
  EXPECT_EQ(planned->outputs[1].metadata["prompt"], "low-poly style of a frog" + tail);
  EXPECT_EQ(reference["negative"], "noisy, sloppy, messy, grainy, highly detailed, ultra textured, photo");
  const json unknown = {
      {"mode", "style"}, {"style", "flames"}, {"template", "van-goh"}, {"styles", VSP_SOURCE_DIR "/configs/styles"}};
  try {
    find_mode("style", "").plan(unknown, PlanContext{*manifest, "name", fs::path("/tmp"), 0});
    FAIL() << "an unknown template must be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("closest: van-gogh"), std::string::npos) << e.what();
  }
}

// A style file may give the reference and the targets different templates, by name or as text
// (the paper's with_style_description per side).
TEST_F(PlanTest, StyleFilesMayTemplateEachSideApart) {
  const auto folder = fs::path(testing::TempDir()) / "vsp-side-templates";
  fs::create_directories(folder);
  std::ofstream(folder / "sides.json") << json{
      {"name", "sides"},
      {"description", "d"},
      {"template", "klimt"},
      {"target_template", "{object}"},
      {"reference_object", "the kiss"},
      {"targets", {"a frog"}}}.dump();
  const json job = {{"mode", "style"}, {"style", "sides"}, {"styles", folder.string()}};
  const auto planned = find_mode("style", "").plan(job, PlanContext{*manifest, "name", fs::path("/tmp"), 0});
  EXPECT_EQ(planned->outputs[0].metadata["prompt"], "the kiss in style of Gustav Klimt");
  EXPECT_EQ(planned->outputs[1].metadata["prompt"], "a frog");
  EXPECT_EQ(planned->outputs[0].metadata["negative"], "");  // klimt's negative, encoded
}

}  // namespace
}  // namespace vsp::app
