#include "vsp/app/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "vsp/pipeline/phases.hpp"

namespace vsp::app {
std::string clock_text(double seconds) {
  const int s = static_cast<int>(seconds + 0.5);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%d:%02d", s / 60, s % 60);
  return buffer;
}

PhaseTracker::Reading PhaseTracker::take(const pipeline::ProgressEvent& event) {
  const auto now = std::chrono::steady_clock::now();
  Reading reading;
  reading.new_phase = event.phase != phase_ || event.done < last_done_;
  if (reading.new_phase) {
    phase_ = event.phase;
    start_ = last_event_;
    first_done_ = std::max(event.done - 1, 0);  // the first report comes after its first unit
    last_tenth_ = -1;
  }
  last_event_ = now;
  last_done_ = event.done;
  reading.elapsed = std::chrono::duration<double>(now - start_).count();
  if (reading.elapsed > 0 && event.done > first_done_) reading.pace.rate = (event.done - first_done_) / reading.elapsed;
  if (reading.pace.rate > 0) reading.pace.eta = (event.total - event.done) / reading.pace.rate;
  // A first null-text step can take a minute: a log hears of it every 10 s.
  const int tenth = event.total > 0 ? 10 * event.done / event.total : 0;
  const bool quiet_too_long = std::chrono::duration<double>(now - last_line_).count() >= 10;
  reading.log_line = reading.new_phase || tenth != last_tenth_ || quiet_too_long || event.done == event.total;
  if (reading.log_line) {
    last_tenth_ = tenth;
    last_line_ = now;
  }
  return reading;
}

void PhaseTracker::restart() {
  phase_.clear();
  last_event_ = std::chrono::steady_clock::now();
}

Progress::Progress(std::string label, bool quiet)
    : label_(std::move(label)), quiet_(quiet), terminal_(isatty(STDERR_FILENO) == 1) {}

void Progress::update(const pipeline::ProgressEvent& event) {
  if (quiet_ || event.total <= 0) return;
  const auto reading = phases_.take(event);
  if (reading.new_phase && terminal_ && bar_open_) std::fprintf(stderr, "\n");
  const std::string eta = reading.pace.rate > 0 ? clock_text(reading.pace.eta) : "-";
  const std::string detail = event.detail.empty() ? "" : " " + event.detail;
  if (terminal_) {
    constexpr int width = 30;
    const int filled = width * event.done / event.total;
    std::fprintf(stderr, "\r%s %s [%s%s] %d/%d %.2f it/s ETA %s%s\x1b[K", label_.c_str(), event.phase.c_str(),
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), event.done, event.total,
                 reading.pace.rate, eta.c_str(), detail.c_str());
    bar_open_ = event.done < event.total;
    if (!bar_open_) std::fprintf(stderr, "\n");
  } else if (reading.log_line) {
    std::fprintf(stderr, "%s %s %d/%d%s (%.2f it/s, elapsed %s, ETA %s)\n", label_.c_str(), event.phase.c_str(),
                 event.done, event.total, detail.c_str(), reading.pace.rate, clock_text(reading.elapsed).c_str(),
                 eta.c_str());
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
