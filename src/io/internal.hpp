#pragma once
// Helpers shared by the io/ sources; not part of the public interface.
#include <filesystem>
#include <string>

#include "vsp/io/image.hpp"

namespace vsp::io::detail {

// Writes bytes to a unique temporary file next to path, fsyncs it, then renames it onto path.
// On failure the temporary is removed and a vsp::Error names path, the cause and the fix.
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);
// The whole file; throws vsp::Error when it is missing, a folder, unreadable, or larger than
// kMaxImageFileBytes.
std::string read_file(const std::filesystem::path& path);
// The first `size` bytes of a file (fewer if it is shorter), with read_file's errors.
std::string read_head(const std::filesystem::path& path, size_t size);

// Decoders for in-memory files. `path` only names the file in error messages.
// decode_png and decode_jpeg give 8-bit RGB of at most kMaxImagePixels (PNG text is skipped);
// decode_png_text gives the text chunks, after checking that the pixels decode.
Image decode_png(const std::string& bytes, const std::filesystem::path& path);
TextChunks decode_png_text(const std::string& bytes, const std::filesystem::path& path);
Image decode_jpeg(const std::string& bytes, const std::filesystem::path& path);
bool has_png_signature(const std::string& bytes);
bool has_jpeg_signature(const std::string& bytes);

// Throws vsp::Error naming the file and how to shrink it when a header's width x height exceeds
// kMaxImagePixels or a side kMaxImageSide. Decoders call it before they allocate pixels.
void check_image_size(int64_t width, int64_t height, const std::filesystem::path& path);
// "downscale it first ..., e.g. `convert <path> -resize 4096x4096 <stem>-small<ext>`".
std::string downscale_hint(const std::filesystem::path& path);

// Throws vsp::Error unless the image has 1, 3 or 4 channels, a positive size and matching pixels.
void check_layout(const Image& image, const char* what);

}  // namespace vsp::io::detail
