// PNG decoding with libpng: any bit depth, gray, palette or alpha becomes 8-bit RGB; the text
// chunks (tEXt, zTXt, iTXt, before or after the pixels) come back as UTF-8.
// Untrusted files stay within bounds: every chunk must fit in the file before libpng allocates for
// it, the image size is checked from the header before the pixels are allocated, and text is
// either skipped (decode_png) or capped by libpng's limits (decode_png_text).
#include <cctype>
#include <csetjmp>
#include <cstring>
#include <new>
#include <vector>

#include "internal.hpp"
#include "png_errors.hpp"
#include "vsp/error.hpp"

namespace vsp::io::detail {
namespace {

// Text is metadata: a compressed chunk may inflate to 8 MiB (a vsp prompt is far less), and at
// most 32 ancillary chunks are read (libpng then keeps 30; vsp writes two). Uncompressed text is
// bounded by the file's size.
constexpr png_alloc_size_t kMaxChunkBytes = png_alloc_size_t{8} << 20;
constexpr png_uint_32 kMaxAncillaryChunks = 32;

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

// libpng allocates a text chunk's declared length before reading it, even one that the file is
// too short to hold (a 100-byte file can claim a 1.9 GB iTXt chunk). Returns the type of the first
// chunk that runs past the end of the file, or "" when every chunk fits.
std::string overlong_chunk(const std::string& bytes) {
  for (size_t at = 8; at + 8 <= bytes.size();) {
    const auto* header = reinterpret_cast<png_const_bytep>(bytes.data() + at);
    const size_t length = png_get_uint_32(header);
    std::string type = bytes.substr(at + 4, 4);
    if (length + 12 > bytes.size() - at) {  // length, type, data, CRC
      for (char& c : type)
        if (!std::isalpha(static_cast<unsigned char>(c))) c = '?';
      return type;
    }
    if (type == "IEND") break;
    at += length + 12;
  }
  return "";
}

// The steps below run libpng; each returns false when it failed (the message is in the PngError).
// A libpng error longjmps back to them, so they must own no object with a destructor.

// Reads the chunks before the pixels, including the header.
bool read_info(png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  return true;
}

// Asks for 8-bit RGB rows. Alpha is dropped, not composited: the pipeline works on RGB and
// references are opaque photos.
bool start_rows(png_structp png, png_infop info) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return true;
}

// Decodes every row into `rows`, then reads the chunks after the pixels.
bool read_rows(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
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
    std::string value =
        utf8 ? std::string(chunk.text, chunk.itxt_length) : latin1_to_utf8(chunk.text, chunk.text_length);
    chunks.emplace(key, std::move(value));  // a repeated key keeps its first value
  }
  return chunks;
}

// One libpng reader over an in-memory file; a failed step throws a vsp::Error naming the file.
class Reader {
 public:
  Reader(const std::string& bytes, const std::filesystem::path& path) : input_{&bytes, 0}, path_(path) {
    const std::string overlong = overlong_chunk(bytes);
    if (!overlong.empty())
      throw Error(path.string() + " is a damaged PNG (its " + overlong +
                  " chunk runs past the end of the file); re-save or replace the file");
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &error_, on_png_error, ignore_png_warning);
    if (png_) info_ = png_create_info_struct(png_);
    if (!info_) {
      png_destroy_read_struct(&png_, nullptr, nullptr);
      throw std::bad_alloc();
    }
    png_set_read_fn(png_, &input_, read_input);
    png_set_chunk_malloc_max(png_, kMaxChunkBytes);
    png_set_chunk_cache_max(png_, kMaxAncillaryChunks);
  }
  ~Reader() { png_destroy_read_struct(&png_, &info_, nullptr); }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  png_structp png() const { return png_; }
  png_infop info() const { return info_; }
  void check(bool ok) const {
    if (!ok) throw Error(path_.string() + " is a damaged PNG (" + error_.message + "); re-save or replace the file");
  }

 private:
  PngError error_;
  MemoryInput input_;
  std::filesystem::path path_;
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

}  // namespace

bool has_png_signature(const std::string& bytes) {
  return bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0;
}

Image decode_png(const std::string& bytes, const std::filesystem::path& path) {
  Reader reader(bytes, path);
  // Pixels only: text chunks are skipped unread, so they cost no memory.
  static const png_byte text_chunks[] = "tEXt\0zTXt\0iTXt";
  png_set_keep_unknown_chunks(reader.png(), PNG_HANDLE_CHUNK_NEVER, text_chunks, 3);
  // The size check below says what is wrong; libpng's own limit (a million pixels a side) would
  // call such an image damaged.
  png_set_user_limits(reader.png(), PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  reader.check(read_info(reader.png(), reader.info()));
  const png_uint_32 width = png_get_image_width(reader.png(), reader.info());
  const png_uint_32 height = png_get_image_height(reader.png(), reader.info());
  check_image_size(width, height, path);
  reader.check(start_rows(reader.png(), reader.info()));
  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  const size_t stride = static_cast<size_t>(image.width) * 3;
  image.pixels.resize(stride * image.height);
  std::vector<png_bytep> rows(static_cast<size_t>(image.height));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = image.pixels.data() + y * stride;
  reader.check(read_rows(reader.png(), reader.info(), rows.data()));
  return image;
}

TextChunks decode_png_text(const std::string& bytes, const std::filesystem::path& path) {
  Reader reader(bytes, path);
  reader.check(read_info(reader.png(), reader.info()));
  reader.check(start_rows(reader.png(), reader.info()));
  // Every row decodes into the same scratch row: the pixels are checked, not kept, so that a
  // large image costs one row of memory.
  std::vector<png_byte> row(png_get_rowbytes(reader.png(), reader.info()));
  std::vector<png_bytep> rows(png_get_image_height(reader.png(), reader.info()), row.data());
  reader.check(read_rows(reader.png(), reader.info(), rows.data()));
  return text_of(reader.png(), reader.info());
}

}  // namespace vsp::io::detail
