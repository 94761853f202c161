#pragma once
// `vsp check`: compares a folder of generated images with golden ones, for CI.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vsp/io/compare.hpp"

namespace vsp::app {

struct CheckOptions {
  std::filesystem::path golden;
  std::filesystem::path actual;
  std::filesystem::path report = "check-report";  // junit.xml and diffs/ go here
  int64_t max_diff = 3;                           // largest tolerated per-channel difference, 0-255
  double min_psnr = 40;                           // dB
};

enum class CheckStatus { pass, fail, missing, extra };
const char* status_name(CheckStatus status);

// One PNG, by its path relative to both folders ('/'-separated).
struct FileCheck {
  std::string file;
  CheckStatus status = CheckStatus::pass;
  std::optional<io::ImageDifference> difference;  // when both images were read and have one size
  std::string message;                            // why it did not pass
  double seconds = 0;
};

// Compares every *.png under golden with the one at the same relative path under actual, sorted
// by path. Hidden files and folders (atomic writes' ".<name>.tmp-*") and the report folder are
// skipped. Writes nothing. Throws vsp::Error when a folder is missing or golden has no PNGs.
std::vector<FileCheck> compare_folders(const CheckOptions& options);

// 0: every file passes; 2: a file is missing or extra (the set of images is wrong, which matters
// more than any difference); otherwise 1: a regression.
int check_exit_code(const std::vector<FileCheck>& files);

// The --max-diff and --min-psnr flags, range-checked when parsed (vsp check and vsp batch --check).
void add_check_thresholds(CLI::App& app, CheckOptions& options);

// compare_folders, then the report (junit.xml, diffs/<file> for failing pairs of one size) and a
// table on stdout. Returns check_exit_code.
int run_check(const CheckOptions& options);

}  // namespace vsp::app
