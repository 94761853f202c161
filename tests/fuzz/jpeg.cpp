// The JPEG reader (io::read_image tells the format by content): the input is the file.
#include "fuzz_support.hpp"
#include "vsp/error.hpp"
#include "vsp/io/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = vsp::fuzz::write_input("input.jpg", data, size);
  try {
    const auto image = vsp::io::read_image(path);
    if (image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels) __builtin_trap();
  } catch (const vsp::Error&) {
  }
  return 0;
}
