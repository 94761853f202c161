// read_image on JPEGs written here with libjpeg: colour and gray, found by content, damage refused,
// and hostile headers or scan counts refused within a memory budget.
#include <algorithm>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <cstdlib>
// clang-format off
#include <jpeglib.h>
// clang-format on

#include "io_test_support.hpp"

namespace vsp::io::testing {
namespace {

// A smooth image, which JPEG at quality 100 reproduces within a few levels.
Image gradient(int width, int height, int channels) {
  Image image{width, height, channels, {}};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) image.pixels.push_back(static_cast<uint8_t>(40 + x * 2 + y + c * 30));
  return image;
}

// A progressive scan script for one gray component: the DC scan, then each AC coefficient from 1
// to last_coefficient alone, first its high bits, then 4 refinement scans of one bit each.
// Valid, and 1 + 5 * last_coefficient scans long.
std::vector<jpeg_scan_info> successive_approximation_scans(int last_coefficient) {
  std::vector<jpeg_scan_info> scans{{1, {0}, 0, 0, 0, 0}};
  for (int k = 1; k <= last_coefficient; ++k) {
    scans.push_back({1, {0}, k, k, 0, 4});
    for (int bit = 4; bit > 0; --bit) scans.push_back({1, {0}, k, k, bit, bit - 1});
  }
  return scans;
}

std::string encode_jpeg(const Image& image, const std::vector<jpeg_scan_info>& scans = {}) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = image.width;
  cinfo.image_height = image.height;
  cinfo.input_components = image.channels;
  cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  if (!scans.empty()) {
    cinfo.scan_info = scans.data();
    cinfo.num_scans = static_cast<int>(scans.size());
  }
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image.pixels.data() + cinfo.next_scanline * image.width * image.channels);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string bytes(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  return bytes;
}

int max_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
  return worst;
}

using JpegRead = ScratchFolder;

TEST_F(JpegRead, ColourJpegDecodesToRgb) {
  const Image image = gradient(40, 24, 3);
  write_bytes(folder / "photo.jpg", encode_jpeg(image));
  const Image read = read_image(folder / "photo.jpg");
  ASSERT_EQ(read.width, 40);
  ASSERT_EQ(read.height, 24);
  ASSERT_EQ(read.channels, 3);
  EXPECT_LE(max_difference(read.pixels, image.pixels), 4);
}

TEST_F(JpegRead, GrayJpegDecodesToEqualChannels) {
  const Image image = gradient(16, 16, 1);
  write_bytes(folder / "gray.jpeg", encode_jpeg(image));
  const Image read = read_image(folder / "gray.jpeg");
  ASSERT_EQ(read.channels, 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    EXPECT_EQ(read.pixels[i * 3], read.pixels[i * 3 + 1]);
    EXPECT_EQ(read.pixels[i * 3], read.pixels[i * 3 + 2]);
    EXPECT_LE(std::abs(int(read.pixels[i * 3]) - int(image.pixels[i])), 2);
  }
}

TEST_F(JpegRead, FoundByContentNotByExtension) {
  write_bytes(folder / "misnamed.png", encode_jpeg(gradient(8, 8, 3)));
  EXPECT_EQ(read_image(folder / "misnamed.png").width, 8);
}

TEST_F(JpegRead, TruncatedJpegIsAnError) {
  const std::string bytes = encode_jpeg(gradient(64, 64, 3));
  write_bytes(folder / "cut.jpg", bytes.substr(0, bytes.size() / 2));
  expect_error([&] { read_image(folder / "cut.jpg"); }, {"cut.jpg", "not a readable JPEG", "Premature end"});
}

TEST_F(JpegRead, GarbageAfterTheMarkerIsAnError) {
  std::string bytes = encode_jpeg(gradient(16, 16, 3));
  bytes.replace(4, bytes.size() - 4, std::string(bytes.size() - 4, '\x55'));
  write_bytes(folder / "garbage.jpg", bytes);
  expect_error([&] { read_image(folder / "garbage.jpg"); }, {"garbage.jpg", "not a readable JPEG"});
}

// An 8 KB file can claim 65500x65500 pixels, which libjpeg would start allocating (12 GB).
TEST_F(JpegRead, HeaderClaimingAHugeImageIsRefusedBeforeDecoding) {
  std::string bytes = encode_jpeg(gradient(16, 16, 3));
  const size_t frame = bytes.find("\xFF\xC0");  // baseline frame header: length, precision, height, width
  ASSERT_NE(frame, std::string::npos);
  bytes.replace(frame + 5, 4, "\xFF\xDC\xFF\xDC");
  write_bytes(folder / "claim.jpg", bytes);
  expect_error_report(run_with_memory_budget([&] { return std::to_string(read_image(folder / "claim.jpg").width); }),
                      {"claim.jpg is 65500x65500 pixels", "at most 67 megapixels", "-resize 4096x4096"});
}

// Each scan of a progressive JPEG is a pass over every block, however few bytes it takes.
TEST_F(JpegRead, ProgressiveScansAreCappedAt256) {
  const Image image = gradient(16, 16, 1);
  write_bytes(folder / "fine.jpg", encode_jpeg(image, successive_approximation_scans(51)));  // 256 scans
  EXPECT_EQ(read_image(folder / "fine.jpg").width, 16);
  write_bytes(folder / "scans.jpg", encode_jpeg(image, successive_approximation_scans(52)));  // 261 scans
  expect_error([&] { read_image(folder / "scans.jpg"); },
               {"scans.jpg is not a readable JPEG (more than 256 progressive scans)", "re-save it"});
}

}  // namespace
}  // namespace vsp::io::testing
