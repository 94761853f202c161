#include "vsp/config/output_files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>

#include "vsp/error.hpp"

namespace vsp::app {

namespace fs = std::filesystem;

fs::path inside_output_folder(const std::string& given, const std::string& what) {
  const fs::path path = given;
  if (given.empty()) throw UsageError(what + " needs a file or folder name");
  if (path.is_absolute())
    throw UsageError(what + " " + given + " is an absolute path; vsp writes only inside the output folder (--out), " +
                     "so give a path relative to it");
  const fs::path normal = path.lexically_normal();
  if (normal.empty() || normal == "." || *normal.begin() == "..")
    throw UsageError(what + " " + given + " would be written outside the output folder (--out); give a path inside it");
  return normal;
}

bool has_extension(const fs::path& path, const std::string& lower) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == lower;
}

void OutputClaims::claim(const fs::path& file, const std::string& writer) {
  const std::string path = file.lexically_normal().generic_string();
  if (const auto at = files_.find(path); at != files_.end()) conflict(at->second, writer, path, "both write");
  if (const auto at = folders_.find(path); at != folders_.end())
    conflict(at->second, writer, path, "write a folder and a file named");
  // Up to the root of an absolute path ("/" is its own parent) or the start of a relative one.
  for (auto folder = fs::path(path).parent_path(); folder.has_relative_path(); folder = folder.parent_path()) {
    const std::string name = folder.generic_string();
    if (const auto at = files_.find(name); at != files_.end())
      conflict(at->second, writer, name, "write a file and a folder named");
    folders_.emplace(name, writer);
  }
  files_.emplace(path, writer);
}

void OutputClaims::conflict(const std::string& first, const std::string& second, const std::string& path,
                            const std::string& what) const {
  const std::string writers = first == second ? first + " would" : first + " and " + second;
  throw UsageError(writers + " " + what + " " + path + "; " + fix_);
}

namespace {

// "cannot use X: ..." for a status that could not be read (a loop of links, no permission).
[[noreturn]] void unusable(const fs::path& path, const std::error_code& ec) {
  if (ec.value() == ELOOP) throw Error(path.string() + " is a loop of symbolic links; point it at a real folder");
  throw Error("cannot use " + path.string() + " (" + ec.message() + "); choose another --out");
}

// Creates and removes a file in folder: access() would let root through folders that refuse new
// files (/proc, /sys, read-only mounts).
void probe_writable(const fs::path& folder) {
  const fs::path probe = folder / (".vsp-probe-" + std::to_string(::getpid()));
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int error = errno;
    const std::string fix = error == ENOSPC || error == EDQUOT ? "free some disk space or choose another --out"
                            : error == ENOENT                  ? "choose a folder on an ordinary disk for --out"
                                                               : "choose a writable --out";
    throw Error("cannot write to folder " + folder.string() + ": " + std::strerror(error) + "; " + fix);
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace

void check_creatable(const fs::path& folder, const std::vector<fs::path>& files) {
  std::set<fs::path> checked;
  for (const auto& file : files) {
    const fs::path path = folder / file;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec && status.type() != fs::file_type::not_found) unusable(path, ec);
    if (fs::is_directory(status))
      throw Error(path.string() + " is a folder, so vsp cannot write that file; move it away or choose another --out");
    // The nearest folder that exists must be a writable folder; the ones below it are made.
    for (fs::path above = path.parent_path();; above = above.parent_path()) {
      const fs::path shown = above.empty() ? fs::path(".") : above;
      if (checked.count(shown)) break;
      const auto kind = fs::status(shown, ec);
      if (ec && kind.type() != fs::file_type::not_found) unusable(shown, ec);
      if (kind.type() == fs::file_type::not_found && !above.empty()) continue;
      if (!fs::is_directory(kind))
        throw Error(shown.string() + " is a file where vsp needs a folder; move it away or choose another --out");
      probe_writable(shown);
      checked.insert(shown);
      break;
    }
  }
}

OutputFolderLock::OutputFolderLock(const fs::path& folder, const std::string& part)
    : folder_(folder.empty() ? fs::path(".") : folder) {
  for (fs::path above = folder_; !above.empty() && !fs::exists(above); above = above.parent_path()) made_ = above;
  std::error_code ec;
  fs::create_directories(folder_, ec);
  if (ec) throw Error("cannot create folder " + folder_.string() + " (" + ec.message() + "); choose another --out");
  const fs::path locked = part.empty() ? folder_ : folder_ / part;
  fd_ = part.empty() ? ::open(locked.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                     : ::open(locked.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open " + locked.string() + " (" + std::strerror(errno) + "); choose another --out");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw Error("another vsp run is writing to " + folder_.string() + (part.empty() ? "" : " (" + part + ")") +
                "; wait for it to finish or choose another --out (two runs would mix their files)");
  }
}

OutputFolderLock::~OutputFolderLock() {
  ::close(fd_);  // releases the lock
  if (made_.empty()) return;
  // Folders this run made and left empty go, innermost first; fs::remove keeps a folder with files.
  // A run record alone is no output: it goes too.
  std::error_code ec;
  std::vector<fs::path> left;
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    left.push_back(entry.path().filename());
    if (left.size() > 1) break;
  }
  if (left.size() == 1 && left.front() == kRunRecord) fs::remove(folder_ / kRunRecord, ec);
  for (fs::path folder = folder_;; folder = folder.parent_path()) {
    if (!fs::remove(folder, ec) || folder == made_ || folder.empty()) break;
  }
}

}  // namespace vsp::app
