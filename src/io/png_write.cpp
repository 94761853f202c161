// PNG encoding with libpng. Output is a pure function of the pixels and text (no tIME chunk, text
// sorted by key, zlib's output fixed by its input and settings), so the same image and metadata
// always give the same bytes.
#include <csetjmp>
#include <new>
#include <vector>

#include "internal.hpp"
#include "png_errors.hpp"
#include "vsp/error.hpp"

namespace vsp::io {
namespace {

bool is_ascii(const std::string& text) {
  for (unsigned char c : text)
    if (c >= 0x80) return false;
  return true;
}

void check_key(const std::string& key) {
  bool printable = !key.empty() && key.size() <= 79;
  for (unsigned char c : key) printable = printable && c >= 0x20 && c < 0x7f;
  if (!printable) throw Error("PNG text key '" + key + "' must be 1 to 79 printable ASCII characters");
}

// Longer values are compressed: a long prompt would otherwise cost its full size in every image.
// Shorter ones stay readable as they are by any tool.
constexpr size_t kCompressAbove = 1024;

// tEXt and zTXt are Latin-1, so only ASCII values go there unchanged; anything else (a prompt with
// accents, CJK or emoji) goes to a UTF-8 iTXt chunk. The png_text entries point into `text`.
std::vector<png_text> to_png_text(const TextChunks& text) {
  std::vector<png_text> chunks;
  for (const auto& [key, value] : text) {
    check_key(key);
    png_text chunk{};
    const bool compress = value.size() > kCompressAbove;
    if (is_ascii(value))
      chunk.compression = compress ? PNG_TEXT_COMPRESSION_zTXt : PNG_TEXT_COMPRESSION_NONE;
    else
      chunk.compression = compress ? PNG_ITXT_COMPRESSION_zTXt : PNG_ITXT_COMPRESSION_NONE;
    chunk.key = const_cast<png_charp>(key.c_str());
    chunk.text = const_cast<png_charp>(value.c_str());
    chunk.text_length = value.size();
    chunks.push_back(chunk);
  }
  return chunks;
}

int color_type_of(const Image& image) {
  switch (image.channels) {
    case 1:
      return PNG_COLOR_TYPE_GRAY;
    case 4:
      return PNG_COLOR_TYPE_RGB_ALPHA;
    default:
      return PNG_COLOR_TYPE_RGB;
  }
}

// Collects libpng's output in memory. An allocation failure becomes a libpng error, so that no
// C++ exception has to cross libpng's C frames.
void append_output(png_structp png, png_bytep data, png_size_t length) {
  bool failed = false;
  try {
    static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), length);
  } catch (const std::bad_alloc&) {
    failed = true;
  }
  if (failed) png_error(png, "out of memory");
}

void flush_output(png_structp) {}

// Runs libpng's writer; false when it failed (the message is in the PngError).
// A libpng error longjmps back here, so this function must own no object with a destructor.
bool encode(png_structp png, png_infop info, const Image& image, png_text* text, int text_count, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8,
               color_type_of(image), PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (text_count > 0) png_set_text(png, info, text, text_count);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, info);
  return true;
}

}  // namespace

void write_png(const std::filesystem::path& path, const Image& image, const TextChunks& text) {
  detail::check_layout(image, "write_png");
  std::vector<png_text> chunks = to_png_text(text);
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  const size_t stride = static_cast<size_t>(image.width) * image.channels;
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = const_cast<png_bytep>(image.pixels.data() + y * stride);

  detail::PngError error;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &error, detail::on_png_error, detail::ignore_png_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    throw std::bad_alloc();
  }
  std::string bytes;
  png_set_write_fn(png, &bytes, append_output, flush_output);
  const bool encoded = encode(png, info, image, chunks.data(), static_cast<int>(chunks.size()), rows.data());
  png_destroy_write_struct(&png, &info);
  if (!encoded) throw Error("cannot encode " + path.string() + " as PNG: " + error.message);
  detail::write_file_atomically(path, bytes);
}

}  // namespace vsp::io
