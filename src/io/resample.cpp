// Resampling as Pillow's Image.resize does it on 8-bit images (libImaging/Resample.c), because the
// methods' official code prepares its pictures with Pillow: a separable convolution, horizontal pass
// first into an 8-bit image, then vertical; the kernel widens by the scale when shrinking
// (antialiasing); weights normalised per output pixel, then fixed point with 22 fractional bits.
#include <algorithm>
#include <cmath>

#include "internal.hpp"
#include "vsp/error.hpp"

namespace vsp::io {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinear(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x *= M_PI;
  return std::sin(x) / x;
}

double lanczos(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0; }

// Per output pixel: the first input pixel, how many follow, and their fixed-point weights.
struct Taps {
  std::vector<int> first, count;
  std::vector<int32_t> weights;  // output x kernel_size
  int kernel_size = 0;
};

Taps taps(int in_size, int out_size, Filter filter) {
  const double support_1 = filter == Filter::bilinear ? 1.0 : filter == Filter::bicubic ? 2.0 : 3.0;
  const auto kernel = filter == Filter::bilinear ? bilinear : filter == Filter::bicubic ? bicubic : lanczos;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = support_1 * filter_scale, inverse_scale = 1.0 / filter_scale;
  Taps t;
  t.kernel_size = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(static_cast<size_t>(out_size) * t.kernel_size, 0);
  std::vector<double> w(t.kernel_size);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) total += w[x] = kernel((x + xmin - center + 0.5) * inverse_scale);
    for (int x = 0; x < xmax; ++x) {
      const double k = total != 0.0 ? w[x] / total : w[x];
      // Rounded half away from zero, as Pillow's normalize_coeffs_8bpc.
      t.weights[static_cast<size_t>(xx) * t.kernel_size + x] =
          static_cast<int32_t>(k < 0 ? -0.5 + k * (1 << kPrecisionBits) : 0.5 + k * (1 << kPrecisionBits));
    }
    t.first[xx] = xmin;
    t.count[xx] = xmax;
  }
  return t;
}

uint8_t clip8(int64_t sum) {
  if (sum >= (int64_t{1} << kPrecisionBits << 8)) return 255;
  if (sum <= 0) return 0;
  return static_cast<uint8_t>(sum >> kPrecisionBits);
}

// One pass along x (stride 1 pixel) or y (stride one row).
Image resample_axis(const Image& in, int out_size, bool horizontal, Filter filter) {
  const int in_size = horizontal ? in.width : in.height;
  const Taps t = taps(in_size, out_size, filter);
  Image out{horizontal ? out_size : in.width, horizontal ? in.height : out_size, in.channels, {}};
  out.pixels.resize(static_cast<size_t>(out.width) * out.height * out.channels);
  const size_t c = static_cast<size_t>(in.channels);
  const size_t step = horizontal ? c : static_cast<size_t>(in.width) * c;
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const int o = horizontal ? x : y;
      const int32_t* k = &t.weights[static_cast<size_t>(o) * t.kernel_size];
      const size_t base = horizontal ? (static_cast<size_t>(y) * in.width + t.first[o]) * c
                                     : (static_cast<size_t>(t.first[o]) * in.width + x) * c;
      for (size_t ch = 0; ch < c; ++ch) {
        int64_t sum = int64_t{1} << (kPrecisionBits - 1);
        for (int i = 0; i < t.count[o]; ++i) sum += static_cast<int64_t>(in.pixels[base + i * step + ch]) * k[i];
        out.pixels[(static_cast<size_t>(y) * out.width + x) * c + ch] = clip8(sum);
      }
    }
  return out;
}

// round(spare / 2) as Python rounds, halves to even: 19 / 2 = 9.5 gives 10, 21 / 2 = 10.5 gives 10.
int round_half_to_even(int spare) { return spare % 4 == 3 ? spare / 2 + 1 : spare / 2; }

}  // namespace

Image resize(const Image& image, int width, int height, Filter filter) {
  detail::check_layout(image, "resize");
  if (width < 1 || height < 1)
    throw Error("resize: target size " + std::to_string(width) + "x" + std::to_string(height) + " must be positive");
  Image out = image;
  if (width != out.width) out = resample_axis(out, width, true, filter);
  if (height != out.height) out = resample_axis(out, height, false, filter);
  return out;
}

Image crop_to_fill(const Image& image, int width, int height, Filter filter, CropRounding rounding) {
  detail::check_layout(image, "crop_to_fill");
  // The largest centred window of the target's aspect ratio.
  int crop_width = image.width, crop_height = image.height;
  if (static_cast<int64_t>(image.width) * height > static_cast<int64_t>(image.height) * width)
    crop_width = static_cast<int>(static_cast<int64_t>(image.height) * width / height);
  else
    crop_height = static_cast<int>(static_cast<int64_t>(image.width) * height / width);
  crop_width = std::max(crop_width, 1);
  crop_height = std::max(crop_height, 1);
  const auto offset = [&](int spare) { return rounding == CropRounding::down ? spare / 2 : round_half_to_even(spare); };
  const int left = offset(image.width - crop_width), top = offset(image.height - crop_height);
  Image cropped{crop_width, crop_height, image.channels, {}};
  const size_t c = static_cast<size_t>(image.channels);
  cropped.pixels.reserve(static_cast<size_t>(crop_width) * crop_height * c);
  for (int y = top; y < top + crop_height; ++y) {
    const auto row =
        image.pixels.begin() + static_cast<std::ptrdiff_t>((static_cast<size_t>(y) * image.width + left) * c);
    cropped.pixels.insert(cropped.pixels.end(), row, row + static_cast<std::ptrdiff_t>(crop_width * c));
  }
  return resize(cropped, width, height, filter);
}

}  // namespace vsp::io
