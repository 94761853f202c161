// Pixel-wise comparison of two images, for regression checks (`vsp check`).
#include "vsp/io/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "internal.hpp"
#include "vsp/error.hpp"

namespace vsp::io {
namespace {

std::string size_of(const Image& image) {
  return std::to_string(image.width) + "x" + std::to_string(image.height) + " with " + std::to_string(image.channels) +
         " channels";
}

void check_comparable(const Image& golden, const Image& actual, const char* what) {
  detail::check_layout(golden, what);
  detail::check_layout(actual, what);
  if (golden.width != actual.width || golden.height != actual.height || golden.channels != actual.channels)
    throw Error(std::string(what) + ": the golden image is " + size_of(golden) + " but the actual image is " +
                size_of(actual) + "; they must match to be compared");
}

}  // namespace

ImageDifference compare_images(const Image& golden, const Image& actual) {
  check_comparable(golden, actual, "compare_images");
  ImageDifference d;
  int64_t sum_abs = 0;
  int64_t sum_squares = 0;
  for (size_t i = 0; i < golden.pixels.size(); ++i) {
    const int diff = std::abs(int{golden.pixels[i]} - int{actual.pixels[i]});
    d.max_diff = std::max(d.max_diff, diff);
    sum_abs += diff;
    sum_squares += static_cast<int64_t>(diff) * diff;
    d.differing_values += diff != 0;
  }
  const auto count = static_cast<double>(golden.pixels.size());
  d.mean_abs_diff = static_cast<double>(sum_abs) / count;
  const double mse = static_cast<double>(sum_squares) / count;
  d.psnr = mse == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(255.0 * 255.0 / mse);
  return d;
}

Image difference_image(const Image& golden, const Image& actual) {
  check_comparable(golden, actual, "difference_image");
  // Amplified, because the changes worth a look are often a few levels out of 255.
  Image amplified = golden;
  for (size_t i = 0; i < golden.pixels.size(); ++i) {
    const int diff = std::abs(int{golden.pixels[i]} - int{actual.pixels[i]});
    amplified.pixels[i] = static_cast<uint8_t>(std::min(255, 8 * diff));
  }
  // An RGBA panel stays opaque: equal alphas would otherwise make it invisible.
  if (amplified.channels == 4)
    for (size_t i = 3; i < amplified.pixels.size(); i += 4) amplified.pixels[i] = 255;
  return make_grid({golden, actual, amplified}, 3, difference_gap_px);
}

}  // namespace vsp::io
