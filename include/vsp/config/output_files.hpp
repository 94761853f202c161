#pragma once
// Where a run's files go. One rule for every file of every command and jobs field (README,
// "Output files"): it is named relative to the run's output folder and stays inside it; all of a
// run's (or a batch's) files are checked together, before any model runs; one run at a time
// writes a folder; and a run's folder never mixes its files with another run's.
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

// What a run does with the files an earlier run left where it writes (README, "Output files").
enum class EarlierOutputs {
  refuse,     // the default: an earlier run's outputs are an error
  overwrite,  // --overwrite: they are removed (a folder's) or replaced (named files)
  resume,     // vsp batch --resume: the batch's own earlier outputs stay, the batch skips them
};

// A folder run's record of the files it writes, kept in its folder, so that a later run can tell
// an earlier run's outputs from the user's own files and --overwrite removes only the former.
inline constexpr const char* kRunRecord = ".vsp-run.json";

// The files of one run in its output folder: `mine` are the files it writes, `ours` those of the
// runs it belongs with (every shard of its batch; `mine` alone otherwise), all relative to the
// folder. Names starting with '.' (vsp's temporaries and record, the user's dotfiles) are ignored.
struct RunFiles {
  std::filesystem::path folder;
  std::vector<std::filesystem::path> mine;
  std::vector<std::filesystem::path> ours;
  std::string resume_hint;  // ", or --resume to finish that batch" where it applies
};

// A run that owns its folder (--style, transfer, edit, batch), once it holds the folder's lock and
// before any compute: throws vsp::Error when the folder holds files vsp did not write (no
// --overwrite helps: choose another --out), or, unless `earlier` allows them, outputs of an
// earlier run (its record's files and any of `mine`). With overwrite, removes those; then records
// `ours`.
void claim_output_folder(const RunFiles& run, EarlierOutputs earlier);
// A run that writes named files into a folder others share (generate): throws vsp::Error when one
// of them exists, unless `earlier` is overwrite.
void check_named_files(const RunFiles& run, EarlierOutputs earlier);

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
