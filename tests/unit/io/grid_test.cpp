// make_grid layout and gaps.
#include "io_test_support.hpp"

namespace vsp::io::testing {
namespace {

std::vector<uint8_t> pixel_at(const Image& image, int x, int y) {
  const auto start = image.pixels.begin() + (static_cast<size_t>(y) * image.width + x) * image.channels;
  return std::vector<uint8_t>(start, start + image.channels);
}

TEST(Grid, TilesRowByRowWithGaps) {
  const std::vector<Image> images = {solid_image(4, 3, {1, 1, 1}), solid_image(4, 3, {2, 2, 2}),
                                     solid_image(4, 3, {3, 3, 3})};
  const Image grid = make_grid(images, 2, 1);
  EXPECT_EQ(grid.width, 4 + 1 + 4);
  EXPECT_EQ(grid.height, 3 + 1 + 3);
  EXPECT_EQ(pixel_at(grid, 0, 0), (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_EQ(pixel_at(grid, 3, 2), (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_EQ(pixel_at(grid, 4, 0), (std::vector<uint8_t>{255, 255, 255}));  // vertical gap
  EXPECT_EQ(pixel_at(grid, 5, 0), (std::vector<uint8_t>{2, 2, 2}));
  EXPECT_EQ(pixel_at(grid, 0, 3), (std::vector<uint8_t>{255, 255, 255}));  // horizontal gap
  EXPECT_EQ(pixel_at(grid, 0, 4), (std::vector<uint8_t>{3, 3, 3}));
  EXPECT_EQ(pixel_at(grid, 8, 6), (std::vector<uint8_t>{255, 255, 255}));  // empty last cell
}

TEST(Grid, OneRowWithoutGapsIsAConcatenation) {
  const Image left = pattern_image(3, 2, 3);
  const Image right = solid_image(3, 2, {9, 8, 7});
  const Image grid = make_grid({left, right}, 5);
  EXPECT_EQ(grid.width, 6);  // only as many columns as images
  EXPECT_EQ(grid.height, 2);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) {
      EXPECT_EQ(pixel_at(grid, x, y), pixel_at(left, x, y));
      EXPECT_EQ(pixel_at(grid, x + 3, y), pixel_at(right, x, y));
    }
}

TEST(Grid, RejectsMixedSizesAndBadArguments) {
  expect_error([] { make_grid({solid_image(2, 2, {0, 0, 0}), solid_image(3, 2, {0, 0, 0})}, 2); }, {"one size"});
  expect_error([] { make_grid({solid_image(2, 2, {0, 0, 0}), solid_image(2, 2, {0})}, 2); }, {"channel"});
  expect_error([] { make_grid({}, 2); }, {"no images"});
  expect_error([] { make_grid({solid_image(2, 2, {0})}, 0); }, {"column"});
}

}  // namespace
}  // namespace vsp::io::testing
