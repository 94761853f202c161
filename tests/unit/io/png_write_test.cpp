// write_png: pixels and text survive a round trip, output is deterministic, writes are atomic.
#include "io_test_support.hpp"

namespace vsp::io::testing {
namespace {

using PngWrite = ScratchFolder;

TEST_F(PngWrite, RgbRoundTripKeepsEveryPixel) {
  const Image image = pattern_image(37, 21, 3);
  write_png(folder / "rgb.png", image);
  const Image read = read_image(folder / "rgb.png");
  EXPECT_EQ(read.width, 37);
  EXPECT_EQ(read.height, 21);
  EXPECT_EQ(read.channels, 3);
  EXPECT_EQ(read.pixels, image.pixels);
}

TEST_F(PngWrite, RgbaIsReadBackAsRgbWithoutAlpha) {
  const Image image = pattern_image(5, 4, 4);
  write_png(folder / "rgba.png", image);
  const Image read = read_image(folder / "rgba.png");
  ASSERT_EQ(read.channels, 3);
  for (size_t i = 0; i < 20; ++i)
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(read.pixels[i * 3 + c], image.pixels[i * 4 + c]);
}

TEST_F(PngWrite, GrayIsReadBackAsEqualRgb) {
  const Image image = pattern_image(6, 3, 1);
  write_png(folder / "gray.png", image);
  const Image read = read_image(folder / "gray.png");
  ASSERT_EQ(read.channels, 3);
  for (size_t i = 0; i < 18; ++i)
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(read.pixels[i * 3 + c], image.pixels[i]);
}

TEST_F(PngWrite, TextChunksRoundTripIncludingUnicode) {
  const TextChunks text = {
      {"parameters", "a cat, photo\nNegative prompt: blurry\nSteps: 30, Sampler: Euler, Seed: 42"},
      {"vsp", R"({"prompt":"café ☕ 東京 🐱","seed":42})"},
  };
  write_png(folder / "text.png", pattern_image(4, 4, 3), text);
  EXPECT_EQ(read_png_text(folder / "text.png"), text);

  // ASCII goes to tEXt; UTF-8 to an uncompressed iTXt chunk, readable by any PNG tool as is.
  const std::string bytes = read_bytes(folder / "text.png");
  EXPECT_NE(bytes.find(std::string("tEXtparameters\0a cat", 20)), std::string::npos);
  EXPECT_NE(bytes.find(std::string("iTXtvsp\0\0\0\0\0{", 13)), std::string::npos);
  EXPECT_NE(bytes.find("東京 🐱"), std::string::npos);
}

// A long prompt is stored compressed (zTXt for ASCII, compressed iTXt for UTF-8), so that even
// written twice it costs a fraction of its size; up to 1 KiB, text stays as it is.
TEST_F(PngWrite, LongTextIsCompressedAndRoundTrips) {
  std::string prompt;
  for (int i = 0; prompt.size() < 100000; ++i) prompt += "a lighthouse at dusk " + std::to_string(i % 97) + ", ";
  const TextChunks text = {{"parameters", prompt + "\nSteps: 30"}, {"vsp", "{\"prompt\":\"☕ " + prompt + "\"}"}};
  write_png(folder / "long.png", pattern_image(8, 8, 3), text);
  write_png(folder / "again.png", pattern_image(8, 8, 3), text);
  const std::string bytes = read_bytes(folder / "long.png");
  EXPECT_LT(bytes.size(), prompt.size() / 2);
  EXPECT_EQ(bytes, read_bytes(folder / "again.png"));
  EXPECT_NE(bytes.find(std::string("zTXtparameters\0\0", 16)), std::string::npos);
  EXPECT_NE(bytes.find(std::string("iTXtvsp\0\1\0\0\0", 11)), std::string::npos);
  EXPECT_EQ(read_png_text(folder / "long.png"), text);

  write_png(folder / "edge.png", pattern_image(2, 2, 3),
            {{"a", std::string(1024, 'x')}, {"b", std::string(1025, 'x')}});
  const std::string edge = read_bytes(folder / "edge.png");
  EXPECT_NE(edge.find("tEXta"), std::string::npos);
  EXPECT_NE(edge.find("zTXtb"), std::string::npos);
}

TEST_F(PngWrite, SameInputGivesIdenticalBytes) {
  const Image image = pattern_image(64, 48, 3);
  const TextChunks text = {{"parameters", "prompt"}, {"vsp", "{\"prompt\":\"ünïcode\"}"}};
  write_png(folder / "a.png", image, text);
  write_png(folder / "b.png", image, text);
  const std::string first = read_bytes(folder / "a.png");
  EXPECT_EQ(first, read_bytes(folder / "b.png"));
  EXPECT_EQ(first.find("tIME"), std::string::npos);
  write_png(folder / "a.png", image, text);  // overwriting gives the same file again
  EXPECT_EQ(first, read_bytes(folder / "a.png"));
}

TEST_F(PngWrite, LeavesOnlyTheFinalFile) {
  write_png(folder / "out.png", pattern_image(8, 8, 3), {{"parameters", "x"}});
  write_png(folder / "out.png", pattern_image(8, 8, 3), {{"parameters", "y"}});
  EXPECT_EQ(file_names(), std::vector<std::string>{"out.png"});
  EXPECT_EQ(read_png_text(folder / "out.png").at("parameters"), "y");
}

TEST_F(PngWrite, RejectsInvalidKeysAndLayouts) {
  expect_error([&] { write_png(folder / "k.png", pattern_image(2, 2, 3), {{"", "x"}}); }, {"PNG text key"});
  expect_error([&] { write_png(folder / "k.png", pattern_image(2, 2, 3), {{"clé", "x"}}); }, {"'clé'", "ASCII"});
  Image short_pixels = pattern_image(2, 2, 3);
  short_pixels.pixels.pop_back();
  expect_error([&] { write_png(folder / "s.png", short_pixels); }, {"2x2x3", "11 bytes"});
  expect_error([&] { write_png(folder / "c.png", Image{2, 2, 2, std::vector<uint8_t>(8)}); }, {"2x2x2"});
  EXPECT_TRUE(file_names().empty());
}

}  // namespace
}  // namespace vsp::io::testing
