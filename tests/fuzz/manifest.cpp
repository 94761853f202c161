// A model folder's manifest.json; the folder also holds empty module files with the names the
// seeds use, so a valid manifest loads all the way.
#include "vsp/config/manifest.hpp"
#include "fuzz_support.hpp"
#include "vsp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto folder = [] {
    const auto model = vsp::fuzz::scratch() / "model";
    std::filesystem::create_directories(model);
    for (const char* file : {"unet.pt", "vae_encoder.pt", "vae_decoder.pt", "text_encoder.pt", "text_encoder_2.pt",
                             "controlnet_canny.pt", "controlnet_depth.pt"})
      std::ofstream(model / file).put('\n');
    return model;
  }();
  std::ofstream(folder / "manifest.json", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  try {
    const auto manifest = vsp::models::Manifest::load(folder);
    for (const int side : {0, 64, 1000, 1024, 1 << 20}) {
      try {
        manifest.check_size(side, side);
      } catch (const vsp::Error&) {
      }
    }
  } catch (const vsp::Error&) {
  }
  return 0;
}
