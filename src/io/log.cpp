#include "vsp/io/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace vsp::log {
namespace {

spdlog::logger& logger() {
  // stderr, so that stdout stays clean for machine-readable output.
  static auto instance = [] {
    auto l = spdlog::stderr_logger_st("vsp");
    l->set_pattern("%v");
    l->set_level(spdlog::level::info);
    return l;
  }();
  return *instance;
}

}  // namespace

void set_level(Level level) {
  logger().set_level(level == Level::quiet     ? spdlog::level::warn
                     : level == Level::verbose ? spdlog::level::debug
                                               : spdlog::level::info);
}

void info(const std::string& message) { logger().info(message); }
void debug(const std::string& message) { logger().debug(message); }
void warn(const std::string& message) { logger().warn("warning: " + message); }

}  // namespace vsp::log
