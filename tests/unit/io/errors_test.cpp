// One-line vsp::Error messages for files that cannot be read or written, and no leftovers.
#include <fcntl.h>

#include "io_test_support.hpp"

namespace vsp::io::testing {
namespace {

using FileErrors = ScratchFolder;

// A folder this process cannot create files in. Root ignores permission bits, so as root fall back
// to sysfs, which refuses new files even to root.
fs::path unwritable_folder(const fs::path& scratch) {
  const fs::path locked = scratch / "locked";
  fs::create_directory(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  for (const fs::path& candidate : {locked, fs::path("/sys")}) {
    const fs::path probe = candidate / "probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) return candidate;
    ::close(fd);
    fs::remove(probe);
  }
  return {};
}

std::string valid_png(const fs::path& scratch) {
  write_png(scratch / "valid.png", pattern_image(32, 32, 3));
  return read_bytes(scratch / "valid.png");
}

TEST_F(FileErrors, MissingFile) {
  expect_error([&] { read_image(folder / "missing.png"); }, {"missing.png", "No such file", "check the path"});
}

TEST_F(FileErrors, FolderInsteadOfFile) {
  expect_error([&] { read_image(folder); }, {folder.string(), "is a folder"});
}

// The check before compute gives read_image's messages without decoding: a truncated PNG passes
// it (only decoding finds that), anything that is not a readable PNG or JPEG does not.
TEST_F(FileErrors, ImageFileCheckWithoutDecoding) {
  const std::string png = valid_png(folder);
  EXPECT_NO_THROW(check_image_file(folder / "valid.png"));
  write_bytes(folder / "truncated.png", png.substr(0, 40));
  EXPECT_NO_THROW(check_image_file(folder / "truncated.png"));
  expect_error([&] { check_image_file(folder / "missing.png"); }, {"missing.png", "No such file", "check the path"});
  expect_error([&] { check_image_file(folder); }, {folder.string(), "is a folder"});
  write_bytes(folder / "notes.png", "not a picture");
  expect_error([&] { check_image_file(folder / "notes.png"); }, {"notes.png", "not a PNG or JPEG"});
}

TEST_F(FileErrors, NotAnImage) {
  write_bytes(folder / "notes.png", "just some text, not pixels");
  expect_error([&] { read_image(folder / "notes.png"); }, {"notes.png", "not a PNG or JPEG"});
  write_bytes(folder / "empty.jpg", "");
  expect_error([&] { read_image(folder / "empty.jpg"); }, {"empty.jpg", "not a PNG or JPEG"});
}

TEST_F(FileErrors, TruncatedPng) {
  const std::string bytes = valid_png(folder);
  write_bytes(folder / "cut.png", bytes.substr(0, bytes.size() / 2));
  expect_error([&] { read_image(folder / "cut.png"); }, {"cut.png", "damaged PNG", "replace the file"});
}

TEST_F(FileErrors, CorruptPngData) {
  std::string bytes = valid_png(folder);
  const size_t data = bytes.find("IDAT") + 8;
  for (size_t i = data; i < data + 16; ++i) bytes[i] = static_cast<char>(~bytes[i]);
  write_bytes(folder / "flipped.png", bytes);
  expect_error([&] { read_image(folder / "flipped.png"); }, {"flipped.png", "damaged PNG"});
  expect_error([&] { read_png_text(folder / "flipped.png"); }, {"flipped.png", "damaged PNG"});
}

TEST_F(FileErrors, TextOfANonPng) {
  write_bytes(folder / "photo.jpg", "\xFF\xD8\xFF\xE0 rest of a jpeg");
  expect_error([&] { read_png_text(folder / "photo.jpg"); }, {"photo.jpg", "not a PNG file"});
}

TEST_F(FileErrors, UnwritableFolder) {
  const fs::path locked = unwritable_folder(folder);
  if (locked.empty()) GTEST_SKIP() << "no folder here refuses new files to this user";
  expect_error([&] { write_png(locked / "out.png", pattern_image(2, 2, 3)); },
               {"cannot write " + (locked / "out.png").string(), "Permission denied", "choose a writable --out"});
  const float value = 1.0f;
  expect_error([&] { write_npy(locked / "latents.npy", {1}, &value); }, {"latents.npy", "Permission denied"});
}

TEST_F(FileErrors, WriteIntoMissingFolder) {
  expect_error([&] { write_png(folder / "nowhere" / "out.png", pattern_image(2, 2, 3)); },
               {"out.png", "No such file", "create the folder"});
}

TEST_F(FileErrors, FailedRenameRemovesTheTemporary) {
  fs::create_directories(folder / "taken.png" / "child");  // rename cannot replace a non-empty folder
  expect_error([&] { write_png(folder / "taken.png", pattern_image(2, 2, 3)); }, {"cannot write", "taken.png"});
  EXPECT_EQ(file_names(), std::vector<std::string>{"taken.png"});
}

}  // namespace
}  // namespace vsp::io::testing
