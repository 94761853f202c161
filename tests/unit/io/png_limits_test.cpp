// Hostile and oversized PNGs: read_image and read_png_text fail with a vsp::Error, or skip the
// excess, within a memory budget, whatever the file claims. The files are built here byte by byte.
#include <zlib.h>

#include <cstdint>

#include "io_test_support.hpp"

namespace vsp::io::testing {
namespace {

std::string big_endian(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16), static_cast<char>(value >> 8),
          static_cast<char>(value)};
}

// A chunk; `claimed_length` replaces the true length in its header.
std::string chunk(const std::string& type, const std::string& data, int64_t claimed_length = -1) {
  const std::string body = type + data;
  const auto crc = static_cast<uint32_t>(::crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size()));
  return big_endian(claimed_length < 0 ? static_cast<uint32_t>(data.size()) : static_cast<uint32_t>(claimed_length)) +
         body + big_endian(crc);
}

std::string deflate(const std::string& data) {
  uLongf size = ::compressBound(data.size());
  std::string out(size, '\0');
  EXPECT_EQ(::compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(data.data()),
                        data.size(), 9),
            Z_OK);
  out.resize(size);
  return out;
}

// A gray PNG of width x height at bit_depth, all black, with `extra` chunks before the pixels.
// pixel_data false: one empty IDAT, for headers that must be refused before any pixel is read.
std::string gray_png(uint32_t width, uint32_t height, int bit_depth, const std::string& extra = "",
                     bool pixel_data = true) {
  const std::string header =
      big_endian(width) + big_endian(height) + static_cast<char>(bit_depth) + std::string(4, '\0');
  const size_t row = 1 + (static_cast<size_t>(width) * bit_depth + 7) / 8;  // filter byte, packed pixels
  const std::string pixels = pixel_data ? deflate(std::string(row * height, '\0')) : "";
  return "\x89PNG\r\n\x1a\n" + chunk("IHDR", header) + extra + chunk("IDAT", pixels) + chunk("IEND", "");
}

std::string ztxt(const std::string& key, size_t zero_bytes) {
  return chunk("zTXt", key + std::string(2, '\0') + deflate(std::string(zero_bytes, '\0')));
}

std::string size_of(const Image& image) { return std::to_string(image.width) + "x" + std::to_string(image.height); }

using PngLimits = ScratchFolder;

// libpng allocates a text chunk's claimed length before reading it: 1.9 GB for a file of 100 bytes.
TEST_F(PngLimits, ChunkClaimingMoreThanTheFileHoldsIsRefusedBeforeAllocating) {
  for (const std::string type : {"iTXt", "zTXt"}) {
    const std::string claim = chunk(type, "k" + std::string(5, '\0') + "text", 0x71000000);
    write_bytes(folder / "claim.png", gray_png(1, 1, 8, claim));
    const std::string problem = type + " chunk runs past the end of the file";
    expect_error_report(run_with_memory_budget([&] { return size_of(read_image(folder / "claim.png")); }),
                        {"claim.png is a damaged PNG", problem});
    expect_error_report(run_with_memory_budget([&] { return read_png_text(folder / "claim.png").at("k"); }),
                        {"claim.png is a damaged PNG", problem});
  }
}

// Text is capped: a chunk that inflates past 8 MiB is skipped, and so are chunks past the 30th,
// the skipped one included (600 chunks of 1 MiB each would take more than the 512 MiB budget).
// read_image skips text altogether.
TEST_F(PngLimits, TextBombsAreSkippedWithinTheBudget) {
  std::string chunks = ztxt("huge", 16 << 20);
  const std::string compressed = deflate(std::string(1 << 20, '\0'));
  for (int i = 0; i < 600; ++i) chunks += chunk("zTXt", "k" + std::to_string(i) + std::string(2, '\0') + compressed);
  write_bytes(folder / "bomb.png", gray_png(3, 2, 8, chunks));
  const rlim_t budget = 512 << 20;
  EXPECT_EQ(run_with_memory_budget([&] { return size_of(read_image(folder / "bomb.png")); }, budget), "ok: 3x2");
  EXPECT_EQ(run_with_memory_budget(
                [&] {
                  const TextChunks text = read_png_text(folder / "bomb.png");
                  return std::to_string(text.size()) + (text.count("huge") ? " with huge" : "");
                },
                budget),
            "ok: 29");
}

TEST_F(PngLimits, ImageOverTheLimitIsRefusedFromItsHeader) {
  write_bytes(folder / "photo.png", gray_png(20000, 20000, 8, "", false));
  expect_error_report(run_with_memory_budget([&] { return size_of(read_image(folder / "photo.png")); }),
                      {"photo.png is 20000x20000 pixels", "(at most 67 megapixels, e.g. 8192x8192, and 65535 a side)",
                       "`convert " + (folder / "photo.png").string() + " -resize 4096x4096 " +
                           (folder / "photo-small.png").string() + "`"});
}

// The limit is on the area: 8192x8192 is read, one more column is not, and neither is a long strip.
// A side is at most 65535 pixels, as in JPEG, which bounds libpng's row buffers.
TEST_F(PngLimits, TheLimitIsSixtySevenMegapixelsUpTo65535ASide) {
  write_bytes(folder / "square.png", gray_png(8192, 8192, 1));
  EXPECT_EQ(run_with_memory_budget([&] { return size_of(read_image(folder / "square.png")); }), "ok: 8192x8192");
  write_bytes(folder / "wider.png", gray_png(8193, 8192, 1, "", false));
  expect_error_report(run_with_memory_budget([&] { return size_of(read_image(folder / "wider.png")); }),
                      {"8193x8192 pixels"});
  write_bytes(folder / "strip.png", gray_png(1 << 24, 5, 1, "", false));
  expect_error_report(run_with_memory_budget([&] { return size_of(read_image(folder / "strip.png")); }),
                      {"16777216x5 pixels"});
  write_bytes(folder / "side.png", gray_png(65536, 2, 1, "", false));
  expect_error_report(run_with_memory_budget([&] { return size_of(read_image(folder / "side.png")); }),
                      {"65536x2 pixels", "and 65535 a side"});
}

// read_png_text reads vsp's own outputs, such as a wide grid, at any size: one row at a time.
TEST_F(PngLimits, TextOfAnImageOverTheLimitIsStillRead) {
  write_bytes(folder / "grid.png", gray_png(1 << 14, 1 << 13, 1, chunk("tEXt", std::string("vsp\0{}", 6))));
  EXPECT_EQ(run_with_memory_budget([&] { return read_png_text(folder / "grid.png").at("vsp"); }, 64 << 20), "ok: {}");
}

TEST_F(PngLimits, FileOverTheLimitIsRefusedBeforeReading) {
  write_bytes(folder / "huge.png", gray_png(1, 1, 8));
  fs::resize_file(folder / "huge.png", 300 << 20);  // sparse: no disk space used
  expect_error_report(run_with_memory_budget([&] { return size_of(read_image(folder / "huge.png")); }, 64 << 20),
                      {"huge.png (300 MiB) is larger than the 256 MiB vsp reads", "downscale it first"});
  // A device has no size to check first: reading stops at the limit.
  expect_error_report(run_with_memory_budget([&] { return size_of(read_image("/dev/zero")); }),
                      {"/dev/zero is larger than the 256 MiB vsp reads"});
}

}  // namespace
}  // namespace vsp::io::testing
