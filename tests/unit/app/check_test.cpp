// vsp check on small folders of PNGs: statuses, exit codes, junit.xml, difference images, errors.
#include <gtest/gtest.h>

#include <unistd.h>
#include "app_test_support.hpp"

#include <fstream>
#include <iterator>

#include "vsp/app/check.hpp"
#include "vsp/error.hpp"
#include "vsp/io/image.hpp"

namespace vsp::app {
namespace {

namespace fs = std::filesystem;

io::Image gradient(int width = 8, int height = 6) {
  io::Image image{width, height, 3, {}};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) image.pixels.push_back(static_cast<uint8_t>(x * 10 + y * 5 + c * 40));
  return image;
}

// Every channel value moved by `delta` (gradient values are at most 175, so none wraps).
io::Image shifted(io::Image image, int delta) {
  for (auto& value : image.pixels) value = static_cast<uint8_t>(value + delta);
  return image;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class Check : public testing::ScratchTest {
 protected:
  void SetUp() override {
    ScratchTest::SetUp();
    options.golden = root / "golden";
    options.actual = root / "actual";
    options.report = root / "report";
    fs::create_directories(options.golden);
    fs::create_directories(options.actual);
  }

  // The same image in both folders.
  void put_both(const std::string& file, const io::Image& image) {
    put(options.golden / file, image);
    put(options.actual / file, image);
  }
  static void put(const fs::path& path, const io::Image& image) {
    fs::create_directories(path.parent_path());
    io::write_png(path, image);
  }
  // run_check with its table kept out of the test output.
  int run() {
    ::testing::internal::CaptureStdout();
    const int code = run_check(options);
    table = ::testing::internal::GetCapturedStdout();
    return code;
  }
  std::string junit() const { return read_text(options.report / "junit.xml"); }

  CheckOptions options;
  std::string table;
};

TEST_F(Check, IdenticalFoldersPass) {
  put_both("a.png", gradient());
  put_both("sub/b.png", gradient(5, 5));
  EXPECT_EQ(run(), 0);
  const std::string xml = junit();
  EXPECT_NE(xml.find("<testsuite name=\"vsp check\" tests=\"2\" failures=\"0\" errors=\"0\""), std::string::npos);
  EXPECT_NE(xml.find("<testcase classname=\"vsp.check\" name=\"sub/b.png\""), std::string::npos);
  EXPECT_EQ(xml.find("<failure"), std::string::npos);
  EXPECT_FALSE(fs::exists(options.report / "diffs"));
  EXPECT_NE(table.find("inf"), std::string::npos);
  EXPECT_NE(table.find("check: 2 passed, 0 failed, 0 missing, 0 extra (max diff 3, min PSNR 40 dB)"),
            std::string::npos);
}

TEST_F(Check, ChangeBeyondThresholdFailsWithReportAndDiff) {
  put_both("same.png", gradient());
  put(options.golden / "sub/changed.png", gradient());
  io::Image changed = gradient();
  changed.pixels[7] = static_cast<uint8_t>(changed.pixels[7] + 10);
  put(options.actual / "sub/changed.png", changed);

  EXPECT_EQ(run(), 1);
  const auto files = compare_folders(options);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].file, "same.png");
  EXPECT_EQ(files[0].status, CheckStatus::pass);
  EXPECT_EQ(files[1].file, "sub/changed.png");
  EXPECT_EQ(files[1].status, CheckStatus::fail);
  EXPECT_EQ(files[1].difference->max_diff, 10);
  EXPECT_EQ(files[1].message, "max diff 10 > 3");

  const std::string xml = junit();
  EXPECT_NE(xml.find("failures=\"1\""), std::string::npos);
  EXPECT_NE(xml.find("<failure message=\"max diff 10 &gt; 3\" type=\"regression\">"), std::string::npos);
  const io::Image diff = io::read_image(options.report / "diffs/sub/changed.png");
  EXPECT_EQ(diff.width, 3 * 8 + 2 * io::difference_gap_px);
  EXPECT_EQ(diff.height, 6);
  EXPECT_FALSE(fs::exists(options.report / "diffs/same.png"));
  EXPECT_NE(table.find("sub/changed.png  fail"), std::string::npos) << table;
}

TEST_F(Check, WithinThresholdPasses) {
  put(options.golden / "a.png", gradient());
  put(options.actual / "a.png", shifted(gradient(), 2));  // max diff 2, PSNR 42.1 dB
  EXPECT_EQ(run(), 0);
  options.max_diff = 1;
  EXPECT_EQ(run(), 1);
}

TEST_F(Check, LowPsnrFailsEvenWithinMaxDiff) {
  put(options.golden / "a.png", gradient());
  put(options.actual / "a.png", shifted(gradient(), 3));  // max diff 3 (allowed), PSNR 38.6 dB
  EXPECT_EQ(run(), 1);
  EXPECT_EQ(compare_folders(options)[0].message, "PSNR 38.59 dB < 40 dB");
  options.min_psnr = 38;
  EXPECT_EQ(run(), 0);
}

TEST_F(Check, MissingAndExtraWinOverFailures) {
  put_both("a.png", gradient());
  put(options.golden / "gone.png", gradient());
  EXPECT_EQ(run(), 2);
  EXPECT_NE(junit().find("type=\"missing\""), std::string::npos);

  fs::remove(options.golden / "gone.png");
  put(options.actual / "new.png", gradient());
  EXPECT_EQ(run(), 2);
  EXPECT_NE(junit().find("type=\"extra\""), std::string::npos);

  put(options.actual / "a.png", shifted(gradient(), 20));
  EXPECT_EQ(run(), 2);
  const auto files = compare_folders(options);
  EXPECT_EQ(files[0].status, CheckStatus::fail);
  EXPECT_EQ(files[1].status, CheckStatus::extra);
  EXPECT_EQ(check_exit_code(files), 2);
}

TEST_F(Check, SizeMismatchAndUnreadableImagesFail) {
  put(options.golden / "small.png", gradient(8, 6));
  put(options.actual / "small.png", gradient(6, 8));
  put(options.golden / "broken.png", gradient());
  std::ofstream(options.actual / "broken.png") << "not a png";
  EXPECT_EQ(run(), 1);
  const auto files = compare_folders(options);
  EXPECT_EQ(files[0].status, CheckStatus::fail);
  EXPECT_NE(files[0].message.find("broken.png"), std::string::npos) << files[0].message;
  EXPECT_EQ(files[1].message, "size differs: golden 8x6, actual 6x8");
  EXPECT_FALSE(files[1].difference.has_value());
  EXPECT_FALSE(fs::exists(options.report / "diffs"));  // nothing to show side by side
}

TEST_F(Check, IgnoresHiddenAndNonPngFiles) {
  put_both("a.png", gradient());
  std::ofstream(options.actual / "summary.jsonl") << "{}\n";
  put(options.actual / ".a.png.tmp-123-0", gradient());
  put(options.actual / ".hidden.png", gradient());
  put(options.actual / ".cache/b.png", gradient());
  const auto files = compare_folders(options);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].status, CheckStatus::pass);
}

TEST_F(Check, ReportInsideActualIsNotCountedOnTheNextRun) {
  options.report = options.actual / "check-report";
  put(options.golden / "a.png", gradient());
  put(options.actual / "a.png", shifted(gradient(), 50));
  EXPECT_EQ(run(), 1);
  ASSERT_TRUE(fs::exists(options.report / "diffs/a.png"));
  EXPECT_EQ(run(), 1);  // not 2: diffs/a.png is no extra image
}

TEST_F(Check, EscapesNamesInJunit) {
  put(options.golden / "a&b <\"x\">.png", gradient());
  EXPECT_EQ(run(), 2);
  EXPECT_NE(junit().find("name=\"a&amp;b &lt;&quot;x&quot;&gt;.png\""), std::string::npos) << junit();
}

void expect_error(const CheckOptions& options, std::initializer_list<std::string> words) {
  try {
    run_check(options);
    ADD_FAILURE() << "expected a vsp::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const auto& word : words) EXPECT_NE(message.find(word), std::string::npos) << message;
  }
}

TEST_F(Check, FolderErrorsNameTheFolderAndTheFix) {
  CheckOptions o = options;
  o.golden = root / "nowhere";
  expect_error(o, {"golden folder", "nowhere", "does not exist", "vsp batch"});
  expect_error(options, {"golden folder", "no PNG images", "vsp batch"});  // empty golden
  put(options.golden / "a.png", gradient());
  o = options;
  o.actual = root / "nothing";
  expect_error(o, {"actual folder", "nothing", "does not exist"});
  o = options;
  std::ofstream(root / "file") << "x";
  o.report = root / "file";
  expect_error(o, {"report folder", "--report"});
  o = options;
  o.max_diff = 256;
  expect_error(o, {"--max-diff", "256"});
  EXPECT_FALSE(fs::exists(options.report));  // nothing written before the inputs are known good
}

}  // namespace
}  // namespace vsp::app
