// JPEG decoding with libjpeg into 8-bit RGB.
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
};

// libjpeg's default error_exit calls exit(); this one longjmps to the setjmp in decode() instead,
// skipping only libjpeg's C frames.
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

// Runs libjpeg over the file into image; false when it failed (the message is in errors).
// A libjpeg error longjmps back here, so this function must own no object with a destructor.
bool decode(jpeg_decompress_struct* cinfo, JpegErrors* errors, const std::string& bytes, Image* image) {
  if (setjmp(errors->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(cinfo, TRUE);
  if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
    std::snprintf(errors->message, sizeof errors->message, "CMYK JPEGs are not supported");
    return false;
  }
  cinfo->out_color_space = JCS_RGB;
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
  Image image;
  if (!decode(&decompressor.cinfo, &errors, bytes, &image))
    throw Error(path.string() + " is not a readable JPEG (" + errors.message + "); re-save it as PNG or RGB JPEG");
  return image;
}

}  // namespace vsp::io::detail
