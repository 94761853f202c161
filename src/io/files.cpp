// Reading whole files, atomic writes and the writability probe, with one-line vsp::Error messages.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "internal.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"

namespace vsp::io {
namespace fs = std::filesystem;

namespace {

fs::path folder_of(const fs::path& path) {
  const fs::path folder = path.parent_path();
  return folder.empty() ? fs::path(".") : folder;
}

std::string fix_for(int error) {
  switch (error) {
    case ENOSPC:
    case EDQUOT:
      return "free some disk space or choose another --out";
    case ENOENT:
    case ENOTDIR:
      return "create the folder or choose another --out";
    default:
      return "choose a writable --out";
  }
}

// Temporaries are named ".<file>.<tag>-<host>-<pid>-<counter>": the host tells whether the pid can
// be checked here, since shards on several hosts may share a folder.
std::string host_name() {
  static const std::string host = [] {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == 0) return std::string("localhost");
    std::string text = name;
    for (char& c : text)
      if (c == '/' || c == '.') c = '_';
    return text;
  }();
  return host;
}

std::string temporary_name(const fs::path& path, const char* tag, unsigned counter) {
  return "." + path.filename().string() + "." + tag + "-" + host_name() + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(counter);
}

std::string write_failure(const fs::path& path, int error) {
  return "cannot write " + path.string() + ": " + std::strerror(error) + "; " + fix_for(error);
}

// Creates a new file next to path under a name no other thread or process is using
// (".<name>.<tag>-<pid>-<counter>"); returns the descriptor, or -1 with errno set.
int create_sibling(const fs::path& path, const char* tag, fs::path& created) {
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    created = folder_of(path) / temporary_name(path, tag, counter++);
    const int fd = ::open(created.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;  // EEXIST: a leftover of a killed process; next name
  }
  return -1;
}

// Returns 0 or the errno of the failed write.
int write_all(int fd, const std::string& bytes) {
  const char* data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t written = ::write(fd, data, left);
    if (written < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += written;
    left -= static_cast<size_t>(written);
  }
  return 0;
}

// Makes the rename itself durable. Best effort: some file systems refuse fsync on folders.
void sync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// An unnamed file in path's folder (O_TMPFILE): a process killed while writing it leaves nothing
// behind. Returns -1 where the file system has no unnamed files.
int create_unnamed(const fs::path& path) {
  return ::open(folder_of(path).c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
}

// Gives the complete unnamed file its name. linkat cannot replace a file, so an existing one is
// replaced through a named sibling and rename. Returns 0 or the errno.
int publish_unnamed(int fd, const fs::path& path) {
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) return 0;
  if (errno != EEXIST) return errno;
  static std::atomic<unsigned> counter{0};
  const fs::path sibling = folder_of(path) / temporary_name(path, "tmp", counter++);
  if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, sibling.c_str(), AT_SYMLINK_FOLLOW) != 0) return errno;
  if (::rename(sibling.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(sibling.c_str());
    return error;
  }
  return 0;
}

void write_named_then_rename(const fs::path& path, const std::string& bytes) {
  fs::path temp;
  const int fd = create_sibling(path, "tmp", temp);
  if (fd < 0) throw Error(write_failure(path, errno));
  int error = write_all(fd, bytes);
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(temp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temp.c_str());
    throw Error(write_failure(path, error));
  }
}

// size: the file's size, or 0 where it has none (a pipe).
Error too_large(const fs::path& path, int64_t size) {
  const std::string size_text = size > 0 ? " (" + std::to_string((size + (1 << 20) - 1) >> 20) + " MiB)" : "";
  return Error(path.string() + size_text + " is larger than the " + std::to_string(kMaxImageFileBytes >> 20) +
               " MiB vsp reads; " + detail::downscale_hint(path));
}

}  // namespace

namespace detail {

void write_file_atomically(const fs::path& path, const std::string& bytes) {
  const int fd = create_unnamed(path);
  if (fd < 0) {
    write_named_then_rename(path, bytes);
  } else {
    int error = write_all(fd, bytes);
    if (error == 0 && ::fsync(fd) != 0) error = errno;
    if (error == 0) error = publish_unnamed(fd, path);
    ::close(fd);
    if (error != 0) throw Error(write_failure(path, error));
  }
  sync_folder(folder_of(path));
}

namespace {

// A file descriptor for reading path; throws vsp::Error for a folder or a file that cannot be opened.
int open_for_reading(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw Error(path.string() + " is a folder, not an image file; name a PNG or JPEG file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot read " + path.string() + ": " + std::strerror(errno) + "; check the path");
  return fd;
}

}  // namespace

std::string read_head(const fs::path& path, size_t size) {
  const int fd = open_for_reading(path);
  std::string bytes(size, '\0');
  ssize_t got;
  while ((got = ::read(fd, bytes.data(), size)) < 0 && errno == EINTR) {
  }
  const int error = errno;
  ::close(fd);
  if (got < 0) throw Error("cannot read " + path.string() + ": " + std::strerror(error) + "; check the file");
  bytes.resize(static_cast<size_t>(got));
  return bytes;
}

std::string read_file(const fs::path& path) {
  const int fd = open_for_reading(path);
  // The size is checked before reading, and again while reading for what fstat cannot size (a
  // pipe, /dev/zero) or a file still growing.
  struct stat status {};
  const int64_t size = ::fstat(fd, &status) == 0 && S_ISREG(status.st_mode) ? status.st_size : 0;
  if (size > kMaxImageFileBytes) {
    ::close(fd);
    throw too_large(path, size);
  }
  std::string bytes;
  bytes.reserve(static_cast<size_t>(size));
  char chunk[1 << 16];
  ssize_t got;
  while ((got = ::read(fd, chunk, sizeof chunk)) != 0) {
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      throw Error("cannot read " + path.string() + ": " + std::strerror(error) + "; check the file");
    }
    if (static_cast<int64_t>(bytes.size()) + got > kMaxImageFileBytes) {
      ::close(fd);
      throw too_large(path, 0);
    }
    bytes.append(chunk, static_cast<size_t>(got));
  }
  ::close(fd);
  return bytes;
}

}  // namespace detail

std::vector<fs::path> list_images(const fs::path& folder) {
  std::error_code ec;
  std::vector<fs::path> pictures;
  size_t skipped = 0;  // other files, subfolders, broken or looping links
  fs::directory_iterator entries(folder, ec);
  if (ec) throw Error("cannot read folder " + folder.string() + " (" + ec.message() + "); check the path");
  for (; entries != fs::directory_iterator(); entries.increment(ec)) {
    if (ec) throw Error("cannot read folder " + folder.string() + " (" + ec.message() + "); check its permissions");
    const fs::path path = entries->path();
    std::string extension = path.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::error_code entry_error;  // its own: a broken link must not fail the listing
    if (fs::is_regular_file(path, entry_error) && (extension == ".png" || extension == ".jpg" || extension == ".jpeg"))
      pictures.push_back(path);
    else
      ++skipped;
  }
  if (pictures.empty())
    throw Error("folder " + folder.string() + " has no pictures (.png, .jpg or .jpeg files); add some");
  if (skipped > 0)
    log::warn("folder " + folder.string() + ": skipped " + std::to_string(skipped) +
              " entries that are not .png, .jpg or .jpeg files (other files, subfolders, broken links)");
  std::sort(pictures.begin(), pictures.end());
  return pictures;
}

size_t remove_stale_temporaries(const fs::path& folder) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    // ".<file>.tmp-<host>-<pid>-<counter>" or ".probe-": the writer's host and pid.
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] != '.') continue;
    size_t tag = name.rfind(".tmp-");
    if (tag == std::string::npos) tag = name.rfind(".probe-");
    if (tag == std::string::npos) continue;
    const std::string owner = name.substr(name.find('-', tag) + 1);  // host-pid-counter
    const size_t counter_dash = owner.rfind('-');
    if (counter_dash == std::string::npos || counter_dash == 0) continue;
    const size_t pid_dash = owner.rfind('-', counter_dash - 1);
    if (pid_dash == std::string::npos) continue;
    const std::string host = owner.substr(0, pid_dash);
    const std::string pid = owner.substr(pid_dash + 1, counter_dash - pid_dash - 1);
    if (host != host_name() || pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (fs::exists("/proc/" + pid, ec)) continue;  // its writer may still be running
    removed += fs::remove(entry.path(), ec) ? 1 : 0;
  }
  return removed;
}

}  // namespace vsp::io
