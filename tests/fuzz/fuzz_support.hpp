#pragma once
// Shared by the fuzz targets: the loaders read files, so each input is written to a scratch
// folder first, under $VSP_FUZZ_SCRATCH (scripts/fuzz.sh removes it, so a crashed run leaves
// nothing), else /dev/shm or /tmp. A vsp::Error is the loaders' normal answer to bad input;
// anything else that escapes (another exception, a crash, a sanitizer report, a hang) is a finding.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace vsp::fuzz {

// This process's scratch folder, removed at exit.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path folder = [] {
    const char* parent = std::getenv("VSP_FUZZ_SCRATCH");
    std::string pattern = parent ? parent : std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    pattern += "/vsp-fuzz-XXXXXX";
    if (!::mkdtemp(pattern.data())) ::abort();
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(scratch(), ignored);
    });
    return std::filesystem::path(pattern);
  }();
  return folder;
}

// Writes the input as scratch()/name and returns its path.
inline std::filesystem::path write_input(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = scratch() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) ::abort();
  return path;
}

}  // namespace vsp::fuzz
