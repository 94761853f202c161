#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace vsp::io {

// 8-bit interleaved pixels, row-major, 3 (RGB) or 4 (RGBA) or 1 (gray) channels.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<uint8_t> pixels;
};

// PNG text chunks, written as tEXt (Latin-1 safe) or iTXt (UTF-8) as needed; key -> value.
using TextChunks = std::map<std::string, std::string>;

// Writes atomically: an unnamed file in the same folder (O_TMPFILE) that gets its name once
// complete, or where the file system cannot, a temporary name then rename. A reader never sees
// a partial PNG, and a killed process leaves none behind. Throws vsp::Error with a one-line message.
void write_png(const std::filesystem::path& path, const Image& image, const TextChunks& text = {});
// Reads PNG or JPEG (by content, not by extension) into RGB. Throws vsp::Error on failure.
Image read_image(const std::filesystem::path& path);
TextChunks read_png_text(const std::filesystem::path& path);

// Throws vsp::Error naming the folder when a file cannot be created in path's folder.
void ensure_writable(const std::filesystem::path& path);

// Deletes the named temporaries (".<name>.tmp-<pid>-...") that writers killed mid-write left in
// folder; those of running processes stay. Returns how many were removed.
size_t remove_stale_temporaries(const std::filesystem::path& folder);

// Writes a float32 array as a NumPy .npy file (atomically).
void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& shape, const float* data);

// Tiles same-size images row by row, `columns` per row, with `gap_px` of white between them.
Image make_grid(const std::vector<Image>& images, int columns, int gap_px = 0);
// Resamples to width x height: area averaging when shrinking, bicubic when enlarging.
Image resize(const Image& image, int width, int height);

}  // namespace vsp::io
