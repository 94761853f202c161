// A style config (configs/styles/<name>.json): the input is the file.
#include "fuzz_support.hpp"
#include "vsp/config/style_config.hpp"
#include "vsp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = vsp::fuzz::write_input("style.json", data, size);
  try {
    (void)vsp::app::StyleConfig::load(path).target_prompt("a cat");
  } catch (const vsp::Error&) {
  }
  return 0;
}
