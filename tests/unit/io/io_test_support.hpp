#pragma once
// Shared helpers for the io/ unit tests: scratch folders, byte access, test images, error checks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "vsp/error.hpp"
#include "vsp/io/image.hpp"

namespace vsp::io::testing {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class ScratchFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "vsp-io-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    folder = pattern;
  }
  void TearDown() override {
    fs::permissions(folder, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(folder);
  }
  std::vector<std::string> file_names() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder)) names.push_back(entry.path().filename().string());
    return names;
  }
  fs::path folder;
};

inline std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Every pixel different, so that swapped rows, channels or offsets show.
inline Image pattern_image(int width, int height, int channels) {
  Image image{width, height, channels, {}};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) image.pixels.push_back(static_cast<uint8_t>(x * 7 + y * 13 + c * 71));
  return image;
}

inline Image solid_image(int width, int height, std::vector<uint8_t> color) {
  Image image{width, height, static_cast<int>(color.size()), {}};
  for (int i = 0; i < width * height; ++i)
    for (uint8_t value : color) image.pixels.push_back(value);
  return image;
}

// Expects a vsp::Error whose single-line message contains every one of `words`.
inline void expect_error(const std::function<void()>& action, std::initializer_list<std::string> words) {
  try {
    action();
    ADD_FAILURE() << "expected a vsp::Error";
  } catch (const vsp::Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const std::string& word : words) EXPECT_NE(message.find(word), std::string::npos) << message;
  }
}

}  // namespace vsp::io::testing
