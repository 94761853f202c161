// resize and crop_to_fill give Pillow's bytes: the fixture (tests/python/fixtures_resample.py) holds
// pictures resized and cropped as the methods' official code does, with Pillow. Then sizes, channels
// and errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io_test_support.hpp"

namespace vsp::io::testing {
namespace {

namespace fs = std::filesystem;
const fs::path kResampleData = fs::path(VSP_TEST_DATA) / "resample";

TEST(Resample, MatchesPillowByteForByte) {
  if (!fs::exists(kResampleData / "cases.json"))
    GTEST_SKIP() << "no resample fixture: run .venv/bin/python tests/python/fixtures_resample.py " << VSP_TEST_DATA;
  const auto cases = nlohmann::json::parse(std::ifstream(kResampleData / "cases.json"));
  ASSERT_GE(cases.size(), 60u);
  for (const auto& c : cases) {
    const Image source = read_image(kResampleData / c.at("source").get<std::string>());
    const auto& name = c.at("filter");
    const Filter filter = name == "lanczos" ? Filter::lanczos : name == "bilinear" ? Filter::bilinear : Filter::bicubic;
    const int width = c.at("width"), height = c.at("height");
    const Image got = c.at("crop").is_null()
                          ? resize(source, width, height, filter)
                          : crop_to_fill(source, width, height, filter,
                                         c.at("crop") == "down" ? CropRounding::down : CropRounding::half_to_even);
    const Image want = read_image(kResampleData / c.at("expected").get<std::string>());
    ASSERT_EQ(got.width, want.width);
    ASSERT_EQ(got.height, want.height);
    ASSERT_EQ(got.channels, want.channels);
    size_t differ = 0;
    for (size_t i = 0; i < got.pixels.size(); ++i) differ += got.pixels[i] != want.pixels[i];
    EXPECT_EQ(differ, 0u) << c.dump();
  }
}

TEST(Resize, ShrinkingAveragesAreas) {
  Image checker{2, 2, 1, {0, 200, 100, 100}};
  const Image one = resize(checker, 1, 1);
  EXPECT_EQ(one.pixels, std::vector<uint8_t>{100});
}

TEST(Resize, KeepsSizeChannelsAndFlatColour) {
  for (int channels : {1, 3, 4}) {
    const Image flat = solid_image(10, 6, std::vector<uint8_t>(channels, 77));
    for (auto [width, height] : {std::pair{5, 3}, std::pair{23, 17}, std::pair{20, 3}}) {
      const Image resized = resize(flat, width, height);
      EXPECT_EQ(resized.width, width);
      EXPECT_EQ(resized.height, height);
      EXPECT_EQ(resized.channels, channels);
      EXPECT_EQ(resized.pixels, std::vector<uint8_t>(static_cast<size_t>(width) * height * channels, 77));
    }
  }
}

TEST(Resize, EnlargingInterpolatesSmoothly) {
  Image ramp{8, 1, 1, {0, 30, 60, 90, 120, 150, 180, 210}};
  const Image wide = resize(ramp, 32, 1);
  // Away from the borders Pillow's bicubic (a = -0.5) follows a ramp closely: no steps as with
  // nearest neighbour.
  for (size_t i = 5; i < 27; ++i) {
    EXPECT_GT(wide.pixels[i], wide.pixels[i - 1]) << i;
    EXPECT_NEAR(wide.pixels[i], (i - 1.5) * 7.5, 2.0) << i;
  }
}

TEST(Resize, RejectsEmptyTargets) {
  expect_error([] { resize(solid_image(2, 2, {0}), 0, 4); }, {"0x4"});
}

TEST(Resample, CropOffsetsRoundAsAsked) {
  // 37 x 1 to 18 x 1 leaves 19 spare columns: 9 rounded down, 10 rounded half to even (9.5).
  Image row{37, 1, 1, {}};
  for (int x = 0; x < 37; ++x) row.pixels.push_back(static_cast<uint8_t>(x));
  EXPECT_EQ(crop_to_fill(row, 18, 1, Filter::bicubic, CropRounding::down).pixels.front(), 9);
  EXPECT_EQ(crop_to_fill(row, 18, 1, Filter::bicubic, CropRounding::half_to_even).pixels.front(), 10);
  // 21 spare: 10.5 rounds to 10 either way.
  EXPECT_EQ(crop_to_fill(row, 16, 1, Filter::lanczos, CropRounding::half_to_even).pixels.front(), 10);
}

}  // namespace
}  // namespace vsp::io::testing
