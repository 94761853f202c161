#pragma once
#include <string>

// Logging through spdlog, behind plain functions: spdlog's fmt and the fmt bundled with torch's
// headers clash, so spdlog is only included in a translation unit without torch.
namespace vsp::log {

enum class Level { quiet, normal, verbose };
void set_level(Level level);
void info(const std::string& message);
void debug(const std::string& message);
void warn(const std::string& message);

}  // namespace vsp::log
