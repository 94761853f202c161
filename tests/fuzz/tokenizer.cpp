// The CLIP tokenizer: the input is a prompt. The vocabulary is the folder $VSP_FUZZ_TOKENIZER
// (vocab.json and merges.txt; scripts/fuzz.sh writes one from the CLIP vocabulary).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "vsp/error.hpp"
#include "vsp/text/clip_tokenizer.hpp"

namespace {

const vsp::text::ClipTokenizer& tokenizer() {
  static const vsp::text::ClipTokenizer loaded = [] {
    const char* folder = std::getenv("VSP_FUZZ_TOKENIZER");
    if (!folder) {
      std::fprintf(stderr, "fuzz_tokenizer: set VSP_FUZZ_TOKENIZER to a folder with vocab.json and merges.txt\n");
      std::exit(2);
    }
    return vsp::text::ClipTokenizer::from_files(std::filesystem::path(folder) / "vocab.json",
                                                std::filesystem::path(folder) / "merges.txt", 49407);
  }();
  return loaded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto ids = tokenizer().encode(text, 77);
  if (ids.size() != 77 || ids.front() != tokenizer().bos_id()) __builtin_trap();
  (void)tokenizer().tokenize(text);
  return 0;
}
