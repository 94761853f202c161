// The CLI's one line for failures that are not vsp::Errors: no library text past the cause, and
// out-of-memory advice in the command's own flags.
#include <gtest/gtest.h>

#include <c10/util/Exception.h>

#include <filesystem>
#include <new>
#include <stdexcept>

#include "vsp/app/error_text.hpp"

namespace vsp::app {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(FailureText, OutOfMemoryInsideTorchScriptIsOneLineWithTheCommandsAdvice) {
  const std::runtime_error wrapped(
      "The following operation failed in the TorchScript interpreter.\n"
      "Traceback of TorchScript, serialized code (most recent call last):\n"
      "  File \"code/__torch__/diffusers.py\", line 12, in forward\n"
      "RuntimeError: [enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
      "you tried to allocate 68719476736 bytes.\n");
  const auto line = failure_text(wrapped, "lower --width or --height, or give fewer --to prompts");
  EXPECT_EQ(line.rfind("out of memory (DefaultCPUAllocator: not enough memory", 0), 0u) << line;
  EXPECT_TRUE(contains(line, "; lower --width or --height, or give fewer --to prompts")) << line;
  EXPECT_FALSE(contains(line, "\n") || contains(line, "TorchScript") || contains(line, "Traceback")) << line;
  EXPECT_TRUE(contains(failure_text(std::bad_alloc(), "lower --num"), "out of memory"));
}

TEST(FailureText, AModelThatFailsNamesOnlyTheCause) {
  const std::runtime_error wrapped(
      "The following operation failed in the TorchScript interpreter.\nTraceback of TorchScript:\n"
      "RuntimeError: Expected 4-dimensional input for 4-dimensional weight\n");
  const auto line = failure_text(wrapped, "lower --num");
  EXPECT_EQ(line.rfind("the model failed to run: Expected 4-dimensional input", 0), 0u) << line;
  EXPECT_FALSE(contains(line, "TorchScript interpreter")) << line;
}

TEST(FailureText, FileSystemErrorsNameThePathNotTheLibrary) {
  const std::filesystem::filesystem_error error("filesystem error: status", std::filesystem::path("/data/loop"),
                                                std::make_error_code(std::errc::too_many_symbolic_link_levels));
  const auto line = failure_text(error, "lower --num");
  EXPECT_TRUE(contains(line, "cannot use /data/loop")) << line;
  EXPECT_FALSE(contains(line, "filesystem error")) << line;
}

}  // namespace
}  // namespace vsp::app
