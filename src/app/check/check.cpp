// `vsp check`: folder against folder, image by image, with a JUnit report and difference images.
#include "vsp/app/check.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>

#include "vsp/error.hpp"
#include "vsp/io/image.hpp"
#include "vsp/values.hpp"

namespace vsp::app {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point started) {
  return std::chrono::duration<double>(Clock::now() - started).count();
}

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

std::string format_psnr(double psnr) { return std::isinf(psnr) ? "inf" : format("%.2f", psnr); }

long count(const std::vector<FileCheck>& files, CheckStatus status) {
  return std::count_if(files.begin(), files.end(), [&](const FileCheck& f) { return f.status == status; });
}

bool is_png(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png";
}

void require_folder(const fs::path& folder, const std::string& role, const std::string& fix) {
  std::error_code ec;
  const fs::file_status status = fs::status(folder, ec);
  if (status.type() == fs::file_type::not_found)
    throw Error(role + " folder " + folder.string() + " does not exist; " + fix);
  if (ec) throw Error("cannot access " + role + " folder " + folder.string() + ": " + ec.message() + "; check it");
  if (!fs::is_directory(status)) throw Error(role + " folder " + folder.string() + " is not a folder; " + fix);
}

// Relative paths of the PNGs under root. Hidden entries are skipped (atomic writes' temporaries),
// and so is `skip`, the report's diffs/ folder, which may lie inside root.
std::set<std::string> list_pngs(const fs::path& root, const fs::path& skip) {
  fs::path entered = root;  // the folder being opened when iteration fails, most likely
  const auto unreadable = [&](const std::error_code& ec) {
    return Error("cannot read folder " + entered.string() + ": " + ec.message() + "; check its permissions");
  };
  std::set<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, ec);
  if (ec) throw unreadable(ec);
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw unreadable(ec);
    const fs::path& path = it->path();
    const bool hidden = path.filename().string().front() == '.';
    std::error_code ignored;  // an entry that vanished or a missing `skip` is simply not a match
    if (it->is_directory(ignored)) {
      if (hidden || fs::equivalent(path, skip, ignored)) {
        it.disable_recursion_pending();
      } else {
        entered = path;
      }
    } else if (!hidden && it->is_regular_file(ignored) && is_png(path)) {
      files.insert(path.lexically_relative(root).generic_string());
    }
  }
  if (ec) throw unreadable(ec);
  return files;
}

std::string size_text(const io::Image& image) {
  return std::to_string(image.width) + "x" + std::to_string(image.height);
}

FileCheck compare_file(const CheckOptions& options, const std::string& file) {
  const auto started = Clock::now();
  FileCheck check;
  check.file = file;
  check.status = CheckStatus::fail;  // until the images are read and compared
  try {
    const io::Image golden = io::read_image(options.golden / file);
    const io::Image actual = io::read_image(options.actual / file);
    if (golden.width != actual.width || golden.height != actual.height) {
      check.message = "size differs: golden " + size_text(golden) + ", actual " + size_text(actual);
    } else {
      const io::ImageDifference d = io::compare_images(golden, actual);
      check.difference = d;
      const bool too_different = d.max_diff > options.max_diff;
      const bool too_noisy = d.psnr < options.min_psnr;
      const std::string limit = std::to_string(options.max_diff);
      if (too_different) check.message = "max diff " + std::to_string(d.max_diff) + " > " + limit;
      if (too_different && too_noisy) check.message += ", ";
      if (too_noisy) check.message += "PSNR " + format_psnr(d.psnr) + " dB < " + format("%g", options.min_psnr) + " dB";
      if (!too_different && !too_noisy) check.status = CheckStatus::pass;
    }
  } catch (const Error& e) {
    check.message = e.what();  // unreadable: names the file and why
  }
  check.seconds = seconds_since(started);
  return check;
}

// --- report ------------------------------------------------------------------------------------

void prepare_report_folder(const fs::path& report) {
  std::error_code ec;
  fs::create_directories(report, ec);
  if (ec)
    throw Error("cannot create report folder " + report.string() + ": " + ec.message() + "; choose another --report");
  if (::access(report.c_str(), W_OK) != 0)
    throw Error("cannot write to report folder " + report.string() + ": " + std::strerror(errno) +
                "; choose another --report");
}

void write_diffs(const CheckOptions& options, const std::vector<FileCheck>& files) {
  for (const FileCheck& f : files) {
    if (f.status != CheckStatus::fail || !f.difference) continue;
    const fs::path out = options.report / "diffs" / f.file;
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
    if (ec)
      throw Error("cannot create " + out.parent_path().string() + ": " + ec.message() + "; choose another --report");
    io::write_png(
        out, io::difference_image(io::read_image(options.golden / f.file), io::read_image(options.actual / f.file)));
  }
}

// Escaped for an XML attribute or text. Bytes that are not UTF-8 (a file name in another encoding)
// become U+FFFD, so the report stays well-formed whatever the names.
std::string xml_escape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      size_t length = 1;
      while (length < 4 && i + length <= text.size() && !values::valid_utf8(text.substr(i, length))) ++length;
      if (i + length <= text.size() && values::valid_utf8(text.substr(i, length))) {
        out += text.substr(i, length);
        i += length;
      } else {
        out += "\xEF\xBF\xBD";
        ++i;
      }
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      // XML 1.0 has no other control characters, not even escaped.
      default:
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') ? '?' : c;
    }
    ++i;
  }
  return out;
}

const char* failure_type(CheckStatus status) {
  return status == CheckStatus::fail ? "regression" : status_name(status);
}

// The failure's text: the numbers behind the verdict, and where to look.
std::string failure_details(const CheckOptions& options, const FileCheck& f) {
  if (!f.difference) return f.message;
  const io::ImageDifference& d = *f.difference;
  const fs::path diff = options.report / "diffs" / f.file;
  return "max diff " + std::to_string(d.max_diff) + ", mean abs diff " + format("%.4f", d.mean_abs_diff) + ", PSNR " +
         format_psnr(d.psnr) + " dB, differing channel values " + std::to_string(d.differing_values) +
         "; golden | actual | difference x8: " + diff.string();
}

void write_junit(const CheckOptions& options, const std::vector<FileCheck>& files, double seconds) {
  const long failures = static_cast<long>(files.size()) - count(files, CheckStatus::pass);
  const std::string counts = "tests=\"" + std::to_string(files.size()) + "\" failures=\"" + std::to_string(failures) +
                             "\" errors=\"0\" time=\"" + format("%.3f", seconds) + "\"";
  std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites " + counts +
                    ">\n  <testsuite name=\"vsp check\" " + counts + ">\n";
  for (const FileCheck& f : files) {
    xml += "    <testcase classname=\"vsp.check\" name=\"" + xml_escape(f.file) + "\" time=\"" +
           format("%.3f", f.seconds) + "\"";
    if (f.status == CheckStatus::pass) {
      xml += "/>\n";
      continue;
    }
    xml += ">\n      <failure message=\"" + xml_escape(f.message) + "\" type=\"" + failure_type(f.status) + "\">" +
           xml_escape(failure_details(options, f)) + "</failure>\n    </testcase>\n";
  }
  xml += "  </testsuite>\n</testsuites>\n";

  // Atomic, like io::write_png: a CI step reading the report never sees half of it.
  const fs::path path = options.report / "junit.xml";
  const fs::path temp = options.report / (".junit.xml.tmp-" + std::to_string(::getpid()));
  std::ofstream(temp, std::ios::binary) << xml;
  std::error_code ec;
  if (fs::file_size(temp, ec) != xml.size() || ec) {
    fs::remove(temp, ec);
    throw Error("cannot write " + path.string() + "; check the free disk space or choose another --report");
  }
  fs::rename(temp, path, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw Error("cannot write " + path.string() + ": " + ec.message() + "; choose another --report");
  }
}

void print_table(const std::vector<FileCheck>& files) {
  int width = 4;  // "file"
  for (const FileCheck& f : files) width = std::max(width, static_cast<int>(f.file.size()));
  std::printf("%-*s  %-7s  %8s  %9s  %s\n", width, "file", "status", "max diff", "PSNR (dB)", "note");
  for (const FileCheck& f : files) {
    const std::string max_diff = f.difference ? std::to_string(f.difference->max_diff) : "-";
    const std::string psnr = f.difference ? format_psnr(f.difference->psnr) : "-";
    std::printf("%-*s  %-7s  %8s  %9s  %s\n", width, f.file.c_str(), status_name(f.status), max_diff.c_str(),
                psnr.c_str(), f.message.c_str());
  }
}

}  // namespace

const char* status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::pass:
      return "pass";
    case CheckStatus::fail:
      return "fail";
    case CheckStatus::missing:
      return "missing";
    case CheckStatus::extra:
      return "extra";
  }
  return "?";
}

std::vector<FileCheck> compare_folders(const CheckOptions& options) {
  if (options.max_diff < 0 || options.max_diff > 255)
    throw Error("--max-diff must be between 0 and 255, got " + std::to_string(options.max_diff));
  const std::string make = "vsp batch jobs.json --out ";
  require_folder(options.golden, "golden", "generate the golden images first with " + make + options.golden.string());
  require_folder(options.actual, "actual", "generate the images to check with " + make + options.actual.string());
  const fs::path skip = options.report / "diffs";
  const std::set<std::string> golden = list_pngs(options.golden, skip);
  if (golden.empty())
    throw Error("golden folder " + options.golden.string() + " has no PNG images; generate them first with " + make +
                options.golden.string());
  const std::set<std::string> actual = list_pngs(options.actual, skip);

  std::set<std::string> all = golden;
  all.insert(actual.begin(), actual.end());
  std::vector<FileCheck> files;
  for (const std::string& file : all) {
    if (golden.count(file) == 0) {
      files.push_back({file, CheckStatus::extra, std::nullopt, "not in the golden folder"});
    } else if (actual.count(file) == 0) {
      files.push_back({file, CheckStatus::missing, std::nullopt, "not in the actual folder"});
    } else {
      files.push_back(compare_file(options, file));
    }
  }
  return files;
}

int check_exit_code(const std::vector<FileCheck>& files) {
  bool failed = false;
  for (const FileCheck& f : files) {
    if (f.status == CheckStatus::missing || f.status == CheckStatus::extra) return 2;
    failed = failed || f.status == CheckStatus::fail;
  }
  return failed ? 1 : 0;
}

int run_check(const CheckOptions& options) {
  const auto started = Clock::now();
  const std::vector<FileCheck> files = compare_folders(options);
  const double seconds = seconds_since(started);
  prepare_report_folder(options.report);
  write_diffs(options, files);
  write_junit(options, files, seconds);

  print_table(files);
  std::printf("check: %ld passed, %ld failed, %ld missing, %ld extra (max diff %lld, min PSNR %g dB); report in %s\n",
              count(files, CheckStatus::pass), count(files, CheckStatus::fail), count(files, CheckStatus::missing),
              count(files, CheckStatus::extra), static_cast<long long>(options.max_diff), options.min_psnr,
              (options.report / "junit.xml").c_str());
  return check_exit_code(files);
}

}  // namespace vsp::app
