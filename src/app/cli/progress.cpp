#include "vsp/app/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "vsp/pipeline/phases.hpp"

namespace vsp::app {
std::string clock_text(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%d:%02d", s / 60, s % 60);
  return buffer;
}

Progress::Progress(std::string label, bool quiet)
    : label_(std::move(label)),
      quiet_(quiet),
      terminal_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

void Progress::update(int done, int total) {
  if (quiet_ || total <= 0) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done / elapsed : 0;
  const double eta = rate > 0 ? (total - done) / rate : 0;
  if (terminal_) {
    constexpr int width = 30;
    const int filled = width * done / total;
    std::fprintf(stderr, "\r%s [%s%s] %d/%d %.2f it/s ETA %s ", label_.c_str(), std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, total, rate, clock_text(eta).c_str());
    if (done == total) std::fprintf(stderr, "\n");
  } else {
    // About ten lines per run: enough to follow a log, few enough to read it.
    const int every = total < 10 ? 1 : total / 10;
    if (done % every == 0 || done == total)
      std::fprintf(stderr, "%s step %d/%d (%.2f it/s, elapsed %s)\n", label_.c_str(), done, total, rate,
                   clock_text(elapsed).c_str());
  }
  std::fflush(stderr);
}

void print_timings(std::chrono::steady_clock::time_point started) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto phases = pipeline::phase_figures();
  double load = 0, write = 0;
  for (const auto& phase : phases) {
    if (phase.name == "load") load += phase.seconds;
    if (phase.name == "write") write += phase.seconds;
  }
  std::fprintf(stderr, "timings: load %.3f s, generate %.3f s\n", load, elapsed - load - write);
  for (const auto& phase : phases) {
    std::fprintf(stderr, "timings: phase %s %.3f s, peak RSS %.0f MiB, RSS after %.0f MiB", phase.name.c_str(),
                 phase.seconds, phase.peak_rss_mib, phase.rss_mib);
    if (phase.peak_device_mib >= 0) std::fprintf(stderr, ", peak device %.0f MiB", phase.peak_device_mib);
    std::fprintf(stderr, "\n");
  }
}

}  // namespace vsp::app
