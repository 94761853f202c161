// compare_images against hand-computed statistics; difference_image layout and amplification.
#include <cmath>

#include "io_test_support.hpp"
#include "vsp/io/compare.hpp"

namespace vsp::io::testing {
namespace {

size_t offset(const Image& image, int x, int y, int c) {
  return (static_cast<size_t>(y) * image.width + x) * image.channels + c;
}

std::vector<uint8_t> pixel_at(const Image& image, int x, int y) {
  const auto start = image.pixels.begin() + offset(image, x, y, 0);
  return std::vector<uint8_t>(start, start + image.channels);
}

TEST(CompareImages, IdenticalImagesHaveInfinitePsnr) {
  const Image image = pattern_image(7, 5, 3);
  const ImageDifference d = compare_images(image, image);
  EXPECT_EQ(d.max_diff, 0);
  EXPECT_EQ(d.mean_abs_diff, 0);
  EXPECT_EQ(d.differing_values, 0);
  EXPECT_TRUE(std::isinf(d.psnr) && d.psnr > 0);
}

TEST(CompareImages, OneValueChangedByTen) {
  const Image golden = solid_image(10, 10, {100, 100, 100});
  Image actual = golden;
  actual.pixels[offset(actual, 3, 4, 1)] = 110;
  const ImageDifference d = compare_images(golden, actual);
  EXPECT_EQ(d.max_diff, 10);
  EXPECT_EQ(d.differing_values, 1);
  EXPECT_DOUBLE_EQ(d.mean_abs_diff, 10.0 / 300);
  // MSE = 10^2 / 300 values, so PSNR = 10 log10(255^2 * 3) = 52.9020 dB.
  EXPECT_NEAR(d.psnr, 52.90202, 1e-4);
}

TEST(CompareImages, EveryValueOffByOneIsMseOne) {
  const Image golden = solid_image(4, 3, {10, 20, 30});
  const Image actual = solid_image(4, 3, {11, 19, 31});
  const ImageDifference d = compare_images(golden, actual);
  EXPECT_EQ(d.max_diff, 1);
  EXPECT_EQ(d.differing_values, 36);
  EXPECT_DOUBLE_EQ(d.mean_abs_diff, 1);
  EXPECT_NEAR(d.psnr, 20 * std::log10(255.0), 1e-9);  // 48.13 dB
}

TEST(CompareImages, BlackAgainstWhiteIsZeroDecibels) {
  const ImageDifference d = compare_images(solid_image(2, 2, {0}), solid_image(2, 2, {255}));
  EXPECT_EQ(d.max_diff, 255);
  EXPECT_DOUBLE_EQ(d.mean_abs_diff, 255);
  EXPECT_EQ(d.differing_values, 4);
  EXPECT_NEAR(d.psnr, 0, 1e-12);
}

TEST(CompareImages, IsSymmetric) {
  const Image a = pattern_image(6, 6, 3);
  Image b = a;
  b.pixels[5] = static_cast<uint8_t>(b.pixels[5] + 30);
  b.pixels[40] = static_cast<uint8_t>(b.pixels[40] - 7);
  const ImageDifference ab = compare_images(a, b);
  const ImageDifference ba = compare_images(b, a);
  EXPECT_EQ(ab.max_diff, 30);
  EXPECT_EQ(ab.max_diff, ba.max_diff);
  EXPECT_EQ(ab.differing_values, 2);
  EXPECT_EQ(ab.psnr, ba.psnr);
}

TEST(CompareImages, RejectsOtherSizesNamingBoth) {
  expect_error(
      [] {
        compare_images(solid_image(64, 32, {0, 0, 0}), solid_image(32, 32, {0, 0, 0}));
      },
      {"64x32", "32x32"});
  expect_error(
      [] {
        compare_images(solid_image(8, 8, {0, 0, 0}), solid_image(8, 8, {0, 0, 0, 0}));
      },
      {"3 channels", "4 channels"});
  expect_error([] { difference_image(solid_image(8, 8, {0}), solid_image(8, 9, {0})); }, {"8x8", "8x9"});
  expect_error([] { compare_images(Image{2, 2, 3, {1, 2, 3}}, Image{2, 2, 3, {1, 2, 3}}); }, {"not a valid"});
}

TEST(DifferenceImage, ShowsGoldenActualAndAmplifiedDifference) {
  const Image golden = solid_image(5, 4, {100, 100, 100});
  Image actual = golden;
  actual.pixels[offset(actual, 1, 2, 0)] = 110;  // +10 -> 80 in the difference panel
  actual.pixels[offset(actual, 1, 2, 2)] = 60;   // -40 -> 320, clamped to 255
  const Image panels = difference_image(golden, actual);
  const int step = 5 + difference_gap_px;
  EXPECT_EQ(panels.width, 3 * 5 + 2 * difference_gap_px);
  EXPECT_EQ(panels.height, 4);
  EXPECT_EQ(panels.channels, 3);
  EXPECT_EQ(pixel_at(panels, 1, 2), (std::vector<uint8_t>{100, 100, 100}));
  EXPECT_EQ(pixel_at(panels, step + 1, 2), (std::vector<uint8_t>{110, 100, 60}));
  EXPECT_EQ(pixel_at(panels, 2 * step + 1, 2), (std::vector<uint8_t>{80, 0, 255}));
  EXPECT_EQ(pixel_at(panels, 2 * step, 0), (std::vector<uint8_t>{0, 0, 0}));  // unchanged: black
  EXPECT_EQ(pixel_at(panels, 5, 0), (std::vector<uint8_t>{255, 255, 255}));   // white gap
}

TEST(DifferenceImage, RgbaDifferencePanelIsOpaque) {
  const Image golden = solid_image(2, 2, {10, 20, 30, 255});
  Image actual = golden;
  actual.pixels[0] = 12;
  const Image panels = difference_image(golden, actual);
  const int x = 2 * (2 + difference_gap_px);
  EXPECT_EQ(pixel_at(panels, x, 0), (std::vector<uint8_t>{16, 0, 0, 255}));
  EXPECT_EQ(pixel_at(panels, x + 1, 1), (std::vector<uint8_t>{0, 0, 0, 255}));
}

}  // namespace
}  // namespace vsp::io::testing
