#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vsp::io {

// 8-bit interleaved pixels, row-major, 3 (RGB) or 4 (RGBA) or 1 (gray) channels.
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<uint8_t> pixels;
};

// PNG text chunks, written as tEXt (Latin-1 safe) or iTXt (UTF-8) as needed, compressed (zTXt or
// compressed iTXt) when longer than 1 KiB; key -> value.
using TextChunks = std::map<std::string, std::string>;

// Writes atomically: an unnamed file in the same folder (O_TMPFILE) that gets its name once
// complete, or where the file system cannot, a temporary name then rename. A reader never sees
// a partial PNG, and a killed process leaves none behind. Throws vsp::Error with a one-line message.
void write_png(const std::filesystem::path& path, const Image& image, const TextChunks& text = {});
// What vsp reads, whatever a file's header claims, so that a hostile or mistaken input fails with a
// vsp::Error instead of exhausting memory. Inputs are resized to the model's size (1024 for SDXL),
// so larger pictures gain nothing:
// - files (read_image, read_png_text) of at most 256 MiB;
// - images (read_image) of at most 2^26 pixels, 67 megapixels or 192 MiB as RGB, in any shape up
//   to 65535 pixels a side (JPEG's own limit; it bounds the decoders' row buffers too). Memory
//   follows the area, so the area is what is capped: 8192x8192 and a wide grid of images pass.
//   Checked from the header, before any pixel is allocated.
inline constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 26;
inline constexpr int64_t kMaxImageSide = 65535;

// Reads PNG or JPEG (by content, not by extension) into RGB. Throws vsp::Error on failure.
Image read_image(const std::filesystem::path& path);
// What can be known of a picture without decoding it, for a check before any compute: it is a
// readable file that starts as PNG or JPEG do, and the size its header gives is one read_image
// accepts. Returns the width and height its header gives, when the first MiB holds it (a JPEG's
// frame header may come later). Throws read_image's vsp::Error otherwise.
std::optional<std::pair<int, int>> check_image_file(const std::filesystem::path& path);
// The text chunks of a PNG: at most 30, and a compressed one only if it inflates to at most 8 MiB
// (the others are skipped). The pixels are decoded too, one row at a time and with no size limit,
// to refuse a damaged file.
TextChunks read_png_text(const std::filesystem::path& path);

// The pictures in a folder: its .png, .jpg and .jpeg files (any case), sorted by name. Throws
// vsp::Error when the folder cannot be read or has none.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& folder);

// Deletes the named temporaries and write probes (".<name>.tmp-<host>-<pid>-<n>", ".probe-")
// that processes of this host killed mid-write left in folder. Those of running processes stay,
// and so do other hosts' (their pids cannot be checked here). Returns how many were removed.
size_t remove_stale_temporaries(const std::filesystem::path& folder);

// Writes a float32 array as a NumPy .npy file (atomically).
void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& shape, const float* data);

// Tiles same-size images row by row, `columns` per row, with `gap_px` of white between them.
Image make_grid(const std::vector<Image>& images, int columns, int gap_px = 0);
// Pillow's resampling filters (the methods' official code and image processors prepare pictures
// with Pillow): bilinear, bicubic (a = -0.5, Image.resize's default) and lanczos (a = 3); each
// widens with the scale when shrinking.
enum class Filter { bilinear, bicubic, lanczos };
// Resamples to width x height with the same 8-bit results as Pillow's Image.resize(size, filter),
// each channel on its own (an alpha channel is not premultiplied).
Image resize(const Image& image, int width, int height, Filter filter = Filter::bicubic);
// How the crop's offset (spare pixels / 2) is rounded: down (numpy slicing, (W - w) // 2) or
// halves to even (torchvision's CenterCrop: round((W - w) / 2)).
enum class CropRounding { down, half_to_even };
// Crops the centre to width:height's aspect ratio, then resizes to width x height.
Image crop_to_fill(const Image& image, int width, int height, Filter filter = Filter::bicubic,
                   CropRounding rounding = CropRounding::down);
// OpenCV's Canny edges of an 8-bit image (all its channels), thresholds low and high, as white on
// black in three channels.
Image canny_edges(const Image& image, double low, double high);
// An RGB image with a heatmap of `map` (map_width x map_height values, scaled min to max for
// display, bilinear to the image's size, JET colours) blended over it half and half.
Image overlay_heatmap(const Image& image, const float* map, int map_width, int map_height);
// The image over a white band with `label` (ASCII) centred in it.
Image label_below(const Image& image, const std::string& label);

}  // namespace vsp::io
