#pragma once
// libpng error plumbing shared by the PNG reader and writer.
#include <png.h>

#include <cstdio>

namespace vsp::io::detail {

// Where the error callback leaves libpng's message before it longjmps back to png_jmpbuf.
struct PngError {
  char message[256] = "unknown libpng error";
};

// libpng requires this callback not to return. It longjmps to the setjmp in the caller's decode or
// encode function, skipping only libpng's C frames, so no C++ destructor is bypassed.
inline void on_png_error(png_structp png, png_const_charp message) {
  auto* error = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(error->message, sizeof error->message, "%s", message);
  png_longjmp(png, 1);
}

// Warnings (an unusual colour profile, say) do not stop decoding and should not clutter the CLI.
inline void ignore_png_warning(png_structp, png_const_charp) {}

}  // namespace vsp::io::detail
