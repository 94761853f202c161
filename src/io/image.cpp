// Reading images by content (not by extension) and the layout check shared by the writers.
#include "internal.hpp"
#include "vsp/error.hpp"

namespace vsp::io {

namespace detail {

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
  if (detail::has_png_signature(bytes)) return detail::decode_png(bytes, path).image;
  if (detail::has_jpeg_signature(bytes)) return detail::decode_jpeg(bytes, path);
  throw Error(path.string() + " is not a PNG or JPEG image; convert it to PNG or JPEG");
}

TextChunks read_png_text(const std::filesystem::path& path) {
  const std::string bytes = detail::read_file(path);
  if (!detail::has_png_signature(bytes)) throw Error(path.string() + " is not a PNG file; name a PNG written by vsp");
  return detail::decode_png(bytes, path).text;
}

}  // namespace vsp::io
