// The output file rule (output_files.hpp), the edit options' parsers and jobs-file wording: what
// every command and jobs field goes through before any compute.
#include <gtest/gtest.h>
#include <unistd.h>

#include "../app/app_test_support.hpp"

#include <fstream>

#include "vsp/config/edit_options.hpp"
#include "vsp/config/job_schema.hpp"
#include "vsp/config/modes.hpp"
#include "vsp/config/output_files.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::error_of;

TEST(InsideOutputFolder, RelativePathsComeBackNormalised) {
  EXPECT_EQ(inside_output_folder("nt.npy", "--save-null-text"), fs::path("nt.npy"));
  EXPECT_EQ(inside_output_folder("a/./b/../nt.npy", "--save-null-text"), fs::path("a/nt.npy"));
}

TEST(InsideOutputFolder, EscapesAreUsageErrorsNamingTheFlag) {
  for (const std::string given : {"../nt.npy", "a/../../nt.npy", "..", "/tmp/nt.npy", "", ".", "a/.."}) {
    try {
      inside_output_folder(given, "\"save_null_text\"");
      ADD_FAILURE() << given << " was accepted";
    } catch (const UsageError& e) {
      EXPECT_TRUE(contains(e.what(), "\"save_null_text\"")) << e.what();
    }
  }
}

TEST(OutputClaims, TwoWritersOfOneFileAreNamed) {
  OutputClaims claims("give each output its own name");
  claims.claim("nt.npy", "--save-null-text");
  const auto message = error_of([&] { claims.claim("./nt.npy", "--save-latents"); });
  EXPECT_TRUE(contains(message, "--save-null-text and --save-latents both write nt.npy")) << message;
  EXPECT_TRUE(contains(message, "give each output its own name")) << message;
}

TEST(OutputClaims, AFileWhereAFolderGoesAndTheReverse) {
  OutputClaims claims("fix");
  claims.claim("maps/source.npy", "--save-attention");
  EXPECT_TRUE(contains(error_of([&] { claims.claim("maps", "the images"); }), "a folder and a file named maps"));
  OutputClaims other("fix");
  other.claim("grid.png", "the images");
  EXPECT_TRUE(contains(error_of([&] { other.claim("grid.png/x.npy", "--save-null-text"); }),
                       "a file and a folder named grid.png"));
}

TEST(OutputClaims, DistinctFilesInSharedFolders) {
  OutputClaims claims("fix");
  claims.claim("/abs/out/one.png", "the images");  // vsp generate's files may be absolute
  claims.claim("/abs/out/one.npy", "--save-latents");
  claims.claim("a/b/one.png", "jobs[0]");
  claims.claim("a/b/two.png", "jobs[1]");
  claims.claim("a/three.npy", "jobs[1]");
}

using CheckCreatable = testing::ScratchTest;

TEST_F(CheckCreatable, MissingSubfoldersAreFine) {
  check_creatable(root / "out", {"sub/dir/nt.npy", "grid.png"});
  EXPECT_FALSE(fs::exists(root / "out"));  // checked, not made
}

TEST_F(CheckCreatable, AFolderWhereAFileGoes) {
  fs::create_directories(root / "out" / "edit_1.png");
  const auto message = error_of([&] { check_creatable(root / "out", {"edit_1.png"}); });
  EXPECT_TRUE(contains(message, "edit_1.png is a folder")) << message;
}

TEST_F(CheckCreatable, AFileWhereAFolderGoes) {
  fs::create_directories(root / "out");
  std::ofstream(root / "out" / "maps") << "a file";
  const auto message = error_of([&] { check_creatable(root / "out", {"maps/source/00_a.png"}); });
  EXPECT_TRUE(contains(message, "maps is a file where vsp needs a folder")) << message;
  std::ofstream(root / "file") << "a file";
  EXPECT_TRUE(contains(error_of([&] { check_creatable(root / "file", {"a.png"}); }), "is a file"));
}

TEST_F(CheckCreatable, AFolderThatRefusesFiles) {
  // A read-only folder refuses this user; root writes there, but /proc refuses everyone.
  fs::create_directories(root / "locked");
  fs::permissions(root / "locked", fs::perms::owner_read | fs::perms::owner_exec);
  const fs::path refusing = ::geteuid() == 0 ? fs::path("/proc") : root / "locked";
  const auto message = error_of([&] { check_creatable(refusing / "out", {"a.png"}); });
  fs::permissions(root / "locked", fs::perms::owner_all);
  EXPECT_TRUE(contains(message, "cannot write to folder " + refusing.string())) << message;
  EXPECT_TRUE(fs::is_empty(root / "locked"));  // the probe is gone
}

TEST_F(CheckCreatable, ALoopOfLinksIsOneCleanLine) {
  fs::create_symlink(root / "loop", root / "loop");
  const auto message = error_of([&] { check_creatable(root / "loop", {"a.png"}); });
  EXPECT_TRUE(contains(message, "loop of symbolic links")) << message;
}

using FolderLock = testing::ScratchTest;

TEST_F(FolderLock, ASecondLockOnTheFolderFailsUntilTheFirstEnds) {
  {
    const OutputFolderLock first(root / "out");
    EXPECT_TRUE(contains(error_of([&] { OutputFolderLock second(root / "out"); }), "another vsp run is writing"));
    std::ofstream(root / "out" / "a.png") << "written";
  }
  const OutputFolderLock again(root / "out");
}

TEST_F(FolderLock, FoldersItMadeGoWhenNothingWasWritten) {
  { const OutputFolderLock lock(root / "deep" / "out"); }
  EXPECT_FALSE(fs::exists(root / "deep"));
  {
    const OutputFolderLock lock(root / "deep" / "out");
    std::ofstream(root / "deep" / "out" / "a.png") << "written";
  }
  EXPECT_TRUE(fs::exists(root / "deep" / "out" / "a.png"));
  fs::create_directories(root / "kept");
  { const OutputFolderLock lock(root / "kept"); }
  EXPECT_TRUE(fs::exists(root / "kept"));  // it was there before
}

TEST_F(FolderLock, PartsOfOneFolderLockApart) {
  const OutputFolderLock shard0(root / "out", "summary-shard-0-of-2.jsonl");
  const OutputFolderLock shard1(root / "out", "summary-shard-1-of-2.jsonl");
  EXPECT_TRUE(contains(error_of([&] { OutputFolderLock again(root / "out", "summary-shard-1-of-2.jsonl"); }),
                       "summary-shard-1-of-2.jsonl"));
}

TEST(InJobsTerms, FlagsBecomeTheFieldsAsWritten) {
  const auto& edit = edit_schema().options;
  EXPECT_EQ(in_jobs_terms("--save-null-text needs --image with null-text inversion", edit),
            "\"save_null_text\" needs \"image\" with null-text inversion");
  EXPECT_EQ(in_jobs_terms("--mode must be auto, replace or refine", edit),
            "\"edit_mode\" must be auto, replace or refine");
  const auto& style = style_schema().options;
  EXPECT_EQ(in_jobs_terms("--no-shared-adain needs --shared-attention", style),
            "\"shared_adain\": false needs \"shared_attention\"");
  // Whole words only: --control is not replaced inside --control-scale, nor --seed inside --seeds.
  EXPECT_EQ(in_jobs_terms("--control-scale needs --control", generate_schema().options),
            "\"control_scale\" needs \"control\"");
  EXPECT_EQ(in_jobs_terms("--seeds, not --seedling", style), "\"seeds\", not --seedling");
}

TEST(FieldName, IsTheFlagAsTyped) {
  for (const auto& option : edit_schema().options)
    if (option.key == "edit_mode") EXPECT_EQ(field_name(option, FieldNaming::flag), "--mode");
}

TEST(EditOptions, OutOfRangeValuesAreUsageErrors) {
  EXPECT_THROW(parse_reweights({"dog=inf"}), UsageError);
  EXPECT_THROW(parse_reweights({"dog=101"}), UsageError);
  EXPECT_THROW(parse_reweights({"=2"}), UsageError);
  EXPECT_THROW(parse_cross_replace("2"), UsageError);
  EXPECT_THROW(parse_cross_replace("default=0.5,dog"), UsageError);
  EXPECT_EQ(parse_reweights({"a=b=2"}).front().first, "a=b");  // the weight follows the last '='
  EXPECT_EQ(parse_cross_replace("default=1.0,dog=0.4").back(), (std::pair<std::string, double>{"dog", 0.4}));
}

}  // namespace
}  // namespace vsp::app
