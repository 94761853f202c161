#pragma once
// Where a run's files go. One rule for every file of every command and jobs field (README,
// "Output files"): it is named relative to the run's output folder and stays inside it; all of a
// run's (or a batch's) files are checked together, before any model runs; and one run at a time
// writes a folder.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace vsp::app {

// `given`, typed for `what` ("--save-null-text", or "\"save_null_text\"" in a jobs file), as a path
// inside the output folder. Throws vsp::UsageError when it is empty, absolute or climbs out with "..".
std::filesystem::path inside_output_folder(const std::string& given, const std::string& what);

// Whether path's extension is `lower` (".png") in any case.
bool has_extension(const std::filesystem::path& path, const std::string& lower);

// The files of one run or batch, each claimed by its writer ("the images", "--save-latents",
// "jobs[3]"). A second claim on a path, or a file where another claim needs a folder (or the
// reverse), throws vsp::UsageError naming both writers and `fix`.
class OutputClaims {
 public:
  explicit OutputClaims(std::string fix) : fix_(std::move(fix)) {}
  void claim(const std::filesystem::path& file, const std::string& writer);

 private:
  [[noreturn]] void conflict(const std::string& first, const std::string& second, const std::string& path,
                             const std::string& what) const;
  std::string fix_;
  std::map<std::string, std::string> files_, folders_;
};

// Before any compute: each file (relative to `folder`) can be written. Nothing in the way is a
// folder where a file goes or a file where a folder goes, and the nearest existing folder of each
// is writable. Throws vsp::Error naming the path and the fix.
void check_creatable(const std::filesystem::path& folder, const std::vector<std::filesystem::path>& files);

// An exclusive lock on an output folder while a run writes it, so that two runs never mix their
// files: a second run on the folder fails at once. The folder is made here; when the run ends
// without writing anything into a folder it made, the folder goes too. The lock is the kernel's
// (flock), so a killed run leaves none behind. With `part` (a file in the folder, e.g. a batch
// shard's summary), the lock is on that file: runs on different parts share the folder.
class OutputFolderLock {
 public:
  explicit OutputFolderLock(const std::filesystem::path& folder, const std::string& part = "");
  ~OutputFolderLock();
  OutputFolderLock(const OutputFolderLock&) = delete;
  OutputFolderLock& operator=(const OutputFolderLock&) = delete;

 private:
  std::filesystem::path folder_;
  std::filesystem::path made_;  // the topmost folder this lock created, if any
  int fd_ = -1;
};

}  // namespace vsp::app
