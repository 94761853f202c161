#include "vsp/pipeline/phases.hpp"

#include <ATen/DeviceAccelerator.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <string>

namespace vsp::pipeline {
namespace {

std::mutex figures_mutex;
std::vector<PhaseFigures>& figures() {
  static std::vector<PhaseFigures> all;
  return all;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A /proc/self/status field in MiB, e.g. "VmHWM" (peak resident memory) or "VmRSS" (now).
double status_mib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024;  // in kB
  return 0;
}

bool tracks_device(const c10::Device& device) {
  return !device.is_cpu() && at::accelerator::isAccelerator(device.type());
}

}  // namespace

PhaseClock::PhaseClock(std::string name, const c10::Device& device)
    : name_(std::move(name)), device_(device), started_(now_seconds()) {
  if (tracks_device(device_)) at::accelerator::resetPeakStats(device_.index() < 0 ? 0 : device_.index());
}

PhaseClock::~PhaseClock() {
  PhaseFigures figure{name_, now_seconds() - started_, status_mib("VmHWM"), status_mib("VmRSS"), -1};
  if (tracks_device(device_)) {
    const auto stats = at::accelerator::getDeviceStats(device_.index() < 0 ? 0 : device_.index());
    figure.peak_device_mib = static_cast<double>(stats.allocated_bytes[0].peak) / (1 << 20);  // 0: all pools
  }
  std::lock_guard lock(figures_mutex);
  for (auto& known : figures())
    if (known.name == name_) {
      known.seconds += figure.seconds;
      known.peak_rss_mib = std::max(known.peak_rss_mib, figure.peak_rss_mib);
      known.rss_mib = figure.rss_mib;
      known.peak_device_mib = std::max(known.peak_device_mib, figure.peak_device_mib);
      return;
    }
  figures().push_back(figure);
}

std::vector<PhaseFigures> phase_figures() {
  std::lock_guard lock(figures_mutex);
  return figures();
}

}  // namespace vsp::pipeline
