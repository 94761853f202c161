// read_image / read_png_text on PNGs vsp does not write itself: 16-bit, palette, low bit depths,
// alpha, interlacing, compressed and trailing text chunks. They are written here with libpng.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "io_test_support.hpp"

namespace vsp::io::testing {
namespace {

struct RawPng {
  int width = 0;
  int height = 0;
  int bit_depth = 8;
  int color_type = PNG_COLOR_TYPE_RGB;
  std::vector<std::vector<uint8_t>> rows;  // packed as the PNG format stores them
  std::vector<png_color> palette;
  std::vector<png_byte> palette_alpha;
  bool interlaced = false;
  std::vector<png_text> text_before;  // before the pixels
  std::vector<png_text> text_after;   // after the pixels
};

bool write_raw(std::FILE* file, const RawPng& raw, png_structp png, png_infop info, png_infop end) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_init_io(png, file);
  png_set_IHDR(png, info, raw.width, raw.height, raw.bit_depth, raw.color_type,
               raw.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!raw.palette.empty()) png_set_PLTE(png, info, raw.palette.data(), static_cast<int>(raw.palette.size()));
  if (!raw.palette_alpha.empty())
    png_set_tRNS(png, info, raw.palette_alpha.data(), static_cast<int>(raw.palette_alpha.size()), nullptr);
  if (!raw.text_before.empty())
    png_set_text(png, info, raw.text_before.data(), static_cast<int>(raw.text_before.size()));
  png_write_info(png, info);
  std::vector<png_bytep> rows;
  for (const auto& row : raw.rows) rows.push_back(const_cast<png_bytep>(row.data()));
  png_write_image(png, rows.data());
  if (!raw.text_after.empty()) png_set_text(png, end, raw.text_after.data(), static_cast<int>(raw.text_after.size()));
  png_write_end(png, end);
  return true;
}

void write_raw_png(const fs::path& path, const RawPng& raw) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_infop end = png_create_info_struct(png);
  const bool written = write_raw(file, raw, png, info, end);
  png_destroy_info_struct(png, &end);
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
  ASSERT_TRUE(written);
}

png_text text_chunk(int compression, const char* key, const char* value) {
  png_text chunk{};
  chunk.compression = compression;
  chunk.key = const_cast<png_charp>(key);
  chunk.text = const_cast<png_charp>(value);
  chunk.text_length = std::strlen(value);
  return chunk;
}

using PngRead = ScratchFolder;

TEST_F(PngRead, SixteenBitKeepsTheHighByte) {
  RawPng raw{2, 1, 16, PNG_COLOR_TYPE_RGB, {{0xAB, 0xCD, 0x12, 0x34, 0xFF, 0xFF, 0x00, 0x00, 0x80, 0x7F, 0x01, 0x02}}};
  write_raw_png(folder / "16.png", raw);
  EXPECT_EQ(read_image(folder / "16.png").pixels, (std::vector<uint8_t>{0xAB, 0x12, 0xFF, 0x00, 0x80, 0x01}));
}

TEST_F(PngRead, GrayAlphaSixteenBitBecomesRgb) {
  RawPng raw{1, 1, 16, PNG_COLOR_TYPE_GRAY_ALPHA, {{0x40, 0x00, 0x00, 0x00}}};
  write_raw_png(folder / "ga.png", raw);
  EXPECT_EQ(read_image(folder / "ga.png").pixels, (std::vector<uint8_t>{0x40, 0x40, 0x40}));
}

TEST_F(PngRead, PaletteWithTransparencyBecomesRgb) {
  RawPng raw{3, 1, 4, PNG_COLOR_TYPE_PALETTE, {{0x01, 0x20}}};  // indices 0, 1, 2
  raw.palette = {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}};
  raw.palette_alpha = {0, 128, 255};
  write_raw_png(folder / "palette.png", raw);
  const Image read = read_image(folder / "palette.png");
  EXPECT_EQ(read.channels, 3);
  EXPECT_EQ(read.pixels, (std::vector<uint8_t>{10, 20, 30, 40, 50, 60, 70, 80, 90}));
}

TEST_F(PngRead, OneBitGrayExpandsToBlackAndWhite) {
  RawPng raw{4, 1, 1, PNG_COLOR_TYPE_GRAY, {{0b10100000}}};
  write_raw_png(folder / "bits.png", raw);
  EXPECT_EQ(read_image(folder / "bits.png").pixels,
            (std::vector<uint8_t>{255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0}));
}

TEST_F(PngRead, InterlacedGivesTheSamePixels) {
  const Image image = pattern_image(11, 9, 3);
  RawPng raw{11, 9, 8, PNG_COLOR_TYPE_RGB, {}};
  for (int y = 0; y < 9; ++y) raw.rows.emplace_back(image.pixels.begin() + y * 33, image.pixels.begin() + (y + 1) * 33);
  raw.interlaced = true;
  write_raw_png(folder / "adam7.png", raw);
  EXPECT_EQ(read_image(folder / "adam7.png").pixels, image.pixels);
}

TEST_F(PngRead, ReadsCompressedLatin1AndTrailingText) {
  RawPng raw{1, 1, 8, PNG_COLOR_TYPE_GRAY, {{0}}};
  raw.text_before = {text_chunk(PNG_TEXT_COMPRESSION_zTXt, "Comment", "squeezed text"),
                     text_chunk(PNG_TEXT_COMPRESSION_NONE, "Author", "Ren\xE9")};  // Latin-1 é
  raw.text_after = {text_chunk(PNG_ITXT_COMPRESSION_zTXt, "Title", "日本語")};
  write_raw_png(folder / "text.png", raw);
  EXPECT_EQ(read_png_text(folder / "text.png"),
            (TextChunks{{"Comment", "squeezed text"}, {"Author", "René"}, {"Title", "日本語"}}));
}

}  // namespace
}  // namespace vsp::io::testing
