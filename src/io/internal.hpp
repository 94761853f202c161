#pragma once
// Helpers shared by the io/ sources; not part of the public interface.
#include <filesystem>
#include <string>

#include "vsp/io/image.hpp"

namespace vsp::io::detail {

// Writes bytes to a unique temporary file next to path, fsyncs it, then renames it onto path.
// On failure the temporary is removed and a vsp::Error names path, the cause and the fix.
void write_file_atomically(const std::filesystem::path& path, const std::string& bytes);
// The whole file; throws vsp::Error when it is missing, a folder, or unreadable.
std::string read_file(const std::filesystem::path& path);

// Decoders for in-memory files. `path` only names the file in error messages.
struct DecodedPng {
  Image image;  // RGB 8-bit
  TextChunks text;
};
DecodedPng decode_png(const std::string& bytes, const std::filesystem::path& path);
Image decode_jpeg(const std::string& bytes, const std::filesystem::path& path);
bool has_png_signature(const std::string& bytes);
bool has_jpeg_signature(const std::string& bytes);

// Throws vsp::Error unless the image has 1, 3 or 4 channels, a positive size and matching pixels.
void check_layout(const Image& image, const char* what);

}  // namespace vsp::io::detail
