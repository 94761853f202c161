#pragma once
// Shared helpers for the io/ unit tests: scratch folders, byte access, test images, error checks,
// and running a reader under a memory limit.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
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

// Runs action in a child process whose address space may grow by at most `budget` bytes past this
// process's, so that a reader that allocates what a hostile header claims fails there, not here.
// Returns "ok: <what action returned>", "error: <vsp::Error message>", or how the child failed.
inline std::string run_with_memory_budget(const std::function<std::string()>& action, rlim_t budget = rlim_t{1} << 30) {
  std::ifstream statm("/proc/self/statm");
  rlim_t pages = 0;
  statm >> pages;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return "fork failed";
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    const rlim_t limit = pages * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + budget;
    const rlimit address_space{limit, limit};
    std::string report = "setrlimit failed";
    if (::setrlimit(RLIMIT_AS, &address_space) == 0) {
      try {
        report = "ok: " + action();
      } catch (const vsp::Error& error) {
        report = std::string("error: ") + error.what();
      } catch (const std::exception& error) {
        report = std::string("other exception: ") + error.what();  // std::bad_alloc: over budget
      }
    }
    const bool written = ::write(pipe_fds[1], report.data(), report.size()) == static_cast<ssize_t>(report.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buffer[4096];
  ssize_t got;
  while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) report.append(buffer, static_cast<size_t>(got));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return "child killed by signal " + std::to_string(WTERMSIG(status)) + " after: " + report;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return "child failed after: " + report;
  return report;
}

// Expects run_with_memory_budget's report of a one-line vsp::Error containing every one of words.
inline void expect_error_report(const std::string& report, std::initializer_list<std::string> words) {
  EXPECT_EQ(report.rfind("error: ", 0), 0u) << report;
  EXPECT_EQ(report.find('\n'), std::string::npos) << report;
  for (const std::string& word : words) EXPECT_NE(report.find(word), std::string::npos) << report;
}

}  // namespace vsp::io::testing
