// Reading images by content (not by extension), the input size limit, and the layout check shared
// by the writers.
#include <optional>
#include <utility>

#include "internal.hpp"
#include "vsp/error.hpp"

namespace vsp::io {

namespace detail {
namespace {

// The path as one shell word: as is when it is plainly safe, else in single quotes.
std::string shell_word(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-/") ==
                           std::string::npos)
    return text;
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

std::string downscale_hint(const std::filesystem::path& path) {
  std::filesystem::path small = path;
  small.replace_filename(path.stem().string() + "-small" + path.extension().string());
  // ImageMagick's -resize fits the picture inside 4096x4096, keeping its proportions.
  return "downscale it first in any image editor, e.g. `convert " + shell_word(path.string()) + " -resize 4096x4096 " +
         shell_word(small.string()) + "`";
}

void check_image_size(int64_t width, int64_t height, const std::filesystem::path& path) {
  if (width * height <= kMaxImagePixels && width <= kMaxImageSide && height <= kMaxImageSide) return;
  throw Error(path.string() + " is " + std::to_string(width) + "x" + std::to_string(height) +
              " pixels, more than vsp reads (at most 67 megapixels, e.g. 8192x8192, and 65535 a side); " +
              downscale_hint(path));
}

void check_layout(const Image& image, const char* what) {
  const bool channels_ok = image.channels == 1 || image.channels == 3 || image.channels == 4;
  const bool size_ok = image.width > 0 && image.height > 0 &&
                       image.pixels.size() == static_cast<size_t>(image.width) * image.height * image.channels;
  if (!channels_ok || !size_ok)
    throw Error(std::string(what) + ": image of " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                "x" + std::to_string(image.channels) + " with " + std::to_string(image.pixels.size()) +
                " bytes is not a valid gray, RGB or RGBA image");
}

}  // namespace detail

Image read_image(const std::filesystem::path& path) {
  const std::string bytes = detail::read_file(path);
  if (detail::has_png_signature(bytes)) return detail::decode_png(bytes, path);
  if (detail::has_jpeg_signature(bytes)) return detail::decode_jpeg(bytes, path);
  throw Error(path.string() + " is not a PNG or JPEG image; convert it to PNG or JPEG");
}

namespace {

// The picture's width and height as its header gives them, when the header lies within `head`:
// PNG's IHDR, or the first JPEG frame (SOF) marker.
std::optional<std::pair<int64_t, int64_t>> header_size(const std::string& head) {
  const auto byte = [&](size_t i) { return static_cast<int64_t>(static_cast<uint8_t>(head[i])); };
  const auto be16 = [&](size_t i) { return byte(i) << 8 | byte(i + 1); };
  if (detail::has_png_signature(head)) {
    if (head.size() < 24 || head.compare(12, 4, "IHDR") != 0) return std::nullopt;
    return std::make_pair(be16(16) << 16 | be16(18), be16(20) << 16 | be16(22));
  }
  for (size_t at = 2; at + 4 <= head.size();) {
    if (byte(at) != 0xFF) return std::nullopt;
    const int64_t marker = byte(at + 1);
    if (marker == 0xFF) {  // a fill byte
      ++at;
    } else if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // markers without a length
      at += 2;
    } else if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      if (at + 9 > head.size()) return std::nullopt;
      return std::make_pair(be16(at + 7), be16(at + 5));
    } else {
      at += 2 + static_cast<size_t>(be16(at + 2));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::pair<int, int>> check_image_file(const std::filesystem::path& path) {
  // A JPEG's frame header may follow a large EXIF block: the first MiB holds it in practice.
  const std::string head = detail::read_head(path, size_t{1} << 20);
  if (!detail::has_png_signature(head) && !detail::has_jpeg_signature(head))
    throw Error(path.string() + " is not a PNG or JPEG image; convert it to PNG or JPEG");
  const auto size = header_size(head);
  if (!size) return std::nullopt;
  detail::check_image_size(size->first, size->second, path);
  return std::make_pair(static_cast<int>(size->first), static_cast<int>(size->second));
}

TextChunks read_png_text(const std::filesystem::path& path) {
  const std::string bytes = detail::read_file(path);
  if (!detail::has_png_signature(bytes)) throw Error(path.string() + " is not a PNG file; name a PNG written by vsp");
  return detail::decode_png_text(bytes, path);
}

}  // namespace vsp::io
