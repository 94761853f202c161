#pragma once
#include <cstdint>

#include "vsp/io/image.hpp"

namespace vsp::io {

// How far `actual` is from `golden`, over every channel value of every pixel.
struct ImageDifference {
  int max_diff = 0;              // largest |golden - actual| of one channel value, 0-255
  double mean_abs_diff = 0;      // mean |golden - actual| over all channel values
  double psnr = 0;               // 10 log10(255^2 / MSE) in dB; +inf when identical
  int64_t differing_values = 0;  // channel values that differ at all
};

// Throws vsp::Error naming both sizes when the width, height or channel count differ.
ImageDifference compare_images(const Image& golden, const Image& actual);

// golden | actual | |golden - actual| * 8 (clamped to 255), side by side with a white gap of
// difference_gap_px between panels, so that a person sees where a small change is. The difference
// panel of an RGBA image is opaque. Throws like compare_images.
constexpr int difference_gap_px = 4;
Image difference_image(const Image& golden, const Image& actual);

}  // namespace vsp::io
