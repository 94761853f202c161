// PNG decoding with libpng: any bit depth, gray, palette or alpha becomes 8-bit RGB; the text
// chunks (tEXt, zTXt, iTXt, before or after the pixels) come back as UTF-8.
#include <csetjmp>
#include <cstring>
#include <new>

#include "internal.hpp"
#include "png_errors.hpp"
#include "vsp/error.hpp"

namespace vsp::io::detail {
namespace {

struct MemoryInput {
  const std::string* bytes;
  size_t offset;
};

void read_input(png_structp png, png_bytep out, png_size_t length) {
  auto* input = static_cast<MemoryInput*>(png_get_io_ptr(png));
  if (length > input->bytes->size() - input->offset) png_error(png, "the file ends early");
  std::memcpy(out, input->bytes->data() + input->offset, length);
  input->offset += length;
}

// Runs libpng's reader over the whole file; false when it failed (the message is in the PngError).
// A libpng error longjmps back here, so this function must own no object with a destructor.
bool decode(png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png))) return false;
  // Alpha is dropped, not composited: the pipeline works on RGB and references are opaque photos.
  png_read_png(png, info,
               PNG_TRANSFORM_EXPAND | PNG_TRANSFORM_STRIP_16 | PNG_TRANSFORM_STRIP_ALPHA | PNG_TRANSFORM_GRAY_TO_RGB,
               nullptr);
  return true;
}

std::string latin1_to_utf8(const char* text, size_t length) {
  std::string utf8;
  for (size_t i = 0; i < length; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      utf8 += static_cast<char>(c);
    } else {
      utf8 += static_cast<char>(0xC0 | (c >> 6));
      utf8 += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return utf8;
}

TextChunks text_of(png_structp png, png_infop info) {
  png_textp text = nullptr;
  const int count = png_get_text(png, info, &text, nullptr);
  TextChunks chunks;
  for (int i = 0; i < count; ++i) {
    const png_text& chunk = text[i];
    const bool utf8 = chunk.compression == PNG_ITXT_COMPRESSION_NONE || chunk.compression == PNG_ITXT_COMPRESSION_zTXt;
    const std::string key = latin1_to_utf8(chunk.key, std::strlen(chunk.key));
    std::string value = utf8 ? std::string(chunk.text, chunk.itxt_length)
                             : latin1_to_utf8(chunk.text, chunk.text_length);
    chunks.emplace(key, std::move(value));  // a repeated key keeps its first value
  }
  return chunks;
}

}  // namespace

bool has_png_signature(const std::string& bytes) {
  return bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0;
}

DecodedPng decode_png(const std::string& bytes, const std::filesystem::path& path) {
  PngError error;
  struct ReadStructs {
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~ReadStructs() { png_destroy_read_struct(&png, &info, nullptr); }
  } structs;
  structs.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, on_png_error, ignore_png_warning);
  if (structs.png) structs.info = png_create_info_struct(structs.png);
  if (!structs.info) throw std::bad_alloc();
  png_structp png = structs.png;
  png_infop info = structs.info;
  MemoryInput input{&bytes, 0};
  png_set_read_fn(png, &input, read_input);
  if (!decode(png, info))
    throw Error(path.string() + " is a damaged PNG (" + error.message + "); re-save or replace the file");

  DecodedPng decoded;
  Image& image = decoded.image;
  image.width = static_cast<int>(png_get_image_width(png, info));
  image.height = static_cast<int>(png_get_image_height(png, info));
  image.channels = 3;
  const size_t stride = static_cast<size_t>(image.width) * 3;
  image.pixels.resize(stride * image.height);
  png_bytepp rows = png_get_rows(png, info);
  for (int y = 0; y < image.height; ++y) std::memcpy(image.pixels.data() + y * stride, rows[y], stride);
  decoded.text = text_of(png, info);
  return decoded;
}

}  // namespace vsp::io::detail
