#pragma once
#include <filesystem>

namespace vsp {

// Whether path is a folder (following links); false when nothing is there. Throws vsp::Error with
// one clean line when it cannot be told (a loop of symbolic links, no permission), where
// std::filesystem would throw its own "filesystem error: status: ..." text.
bool is_folder(const std::filesystem::path& path);

}  // namespace vsp
