#include "vsp/config/paths.hpp"

#include <cerrno>

#include "vsp/error.hpp"

namespace vsp {

bool is_folder(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec && status.type() != std::filesystem::file_type::not_found) {
    if (ec.value() == ELOOP)
      throw Error(path.string() + " is a loop of symbolic links; point it at a real file or folder");
    throw Error("cannot use " + path.string() + " (" + ec.message() + "); check the path and its permissions");
  }
  return std::filesystem::is_directory(status);
}

}  // namespace vsp
