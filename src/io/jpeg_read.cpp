// JPEG decoding with libjpeg into 8-bit RGB, within bounds whatever the header claims: the image
// size is checked before decoding, libjpeg's own memory and the number of scans are capped.
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <cstring>
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "internal.hpp"
#include "vsp/error.hpp"

namespace vsp::io::detail {
namespace {

struct JpegErrors {
  jpeg_error_mgr manager;  // first member: libjpeg hands callbacks a pointer to it
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  jpeg_progress_mgr progress;  // the scan limit, which fails through this struct too
};

// libjpeg's default error_exit calls exit(); this one longjmps to the setjmp in the step that runs
// libjpeg (read_header, read_pixels) instead, skipping only libjpeg's C frames.
void on_jpeg_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  cinfo->err->format_message(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Level -1 is damaged data, after which libjpeg carries on and paints the rest grey: refuse that
// rather than hand a half-grey reference to the pipeline. Stray bytes between markers are the
// exception: some cameras write them, and no pixel is lost. Trace messages stay silent.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code != JWRN_EXTRANEOUS_DATA) on_jpeg_error(cinfo);
}

// What libjpeg may allocate besides the output pixels: a progressive image at the pixel limit
// keeps 2 bytes per pixel and component, 384 MiB for 3 components.
constexpr long kMaxJpegMemory = 512L << 20;
// A progressive JPEG can repeat near-empty scans, each a pass over every block: a few kilobytes
// that keep the decoder busy for hours. Real files have at most a few dozen scans.
constexpr int kMaxScans = 256;

void check_scan_count(j_common_ptr cinfo) {
  const int scan = reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number;
  if (scan <= kMaxScans) return;
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  std::snprintf(errors->message, sizeof errors->message, "more than %d progressive scans", kMaxScans);
  std::longjmp(errors->jump, 1);
}

// The steps below run libjpeg; each returns false when it failed (the message is in errors).
// A libjpeg error longjmps back to them, so they must own no object with a destructor.

// Reads the header, up to the size of the image.
bool read_header(jpeg_decompress_struct* cinfo, JpegErrors* errors, const std::string& bytes) {
  if (setjmp(errors->jump)) return false;
  jpeg_create_decompress(cinfo);  // zeroes all but cinfo->err
  cinfo->mem->max_memory_to_use = kMaxJpegMemory;
  errors->progress.progress_monitor = check_scan_count;
  cinfo->progress = &errors->progress;
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(cinfo, TRUE);
  if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
    std::snprintf(errors->message, sizeof errors->message, "CMYK JPEGs are not supported");
    return false;
  }
  cinfo->out_color_space = JCS_RGB;
  return true;
}

// Decodes the pixels into image.
bool read_pixels(jpeg_decompress_struct* cinfo, JpegErrors* errors, Image* image) {
  if (setjmp(errors->jump)) return false;
  jpeg_start_decompress(cinfo);
  image->width = static_cast<int>(cinfo->output_width);
  image->height = static_cast<int>(cinfo->output_height);
  image->channels = 3;
  const size_t stride = static_cast<size_t>(image->width) * 3;
  image->pixels.resize(stride * image->height);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = image->pixels.data() + cinfo->output_scanline * stride;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

}  // namespace

bool has_jpeg_signature(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
         static_cast<unsigned char>(bytes[1]) == 0xD8 && static_cast<unsigned char>(bytes[2]) == 0xFF;
}

Image decode_jpeg(const std::string& bytes, const std::filesystem::path& path) {
  JpegErrors errors{};
  struct Decompressor {
    jpeg_decompress_struct cinfo{};
    ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
  } decompressor;
  decompressor.cinfo.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = on_jpeg_error;
  errors.manager.emit_message = on_jpeg_message;
  const auto fail = [&] {
    return Error(path.string() + " is not a readable JPEG (" + errors.message + "); re-save it as PNG or RGB JPEG");
  };
  if (!read_header(&decompressor.cinfo, &errors, bytes)) throw fail();
  // At scale 1, the output is the size the header gives.
  check_image_size(decompressor.cinfo.image_width, decompressor.cinfo.image_height, path);
  Image image;
  if (!read_pixels(&decompressor.cinfo, &errors, &image)) throw fail();
  return image;
}

}  // namespace vsp::io::detail
