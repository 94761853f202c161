#pragma once
#include <chrono>
#include <string>

namespace vsp::app {

// Step progress on stderr: a redrawn bar with it/s and ETA on a terminal, a few plain lines
// otherwise (logs, CI), nothing with --quiet.
class Progress {
 public:
  Progress(std::string label, bool quiet);
  void update(int done, int total);

 private:
  std::string label_;
  bool quiet_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
};

// "1:05" for 65 seconds.
std::string clock_text(double seconds);

// On stderr (--timings; scripts/benchmark*.py read them): "timings: load X s, generate Y s" (since
// `started`, less the load and write phases), then for each phase recorded so far "timings: phase
// NAME S s, peak RSS M MiB, RSS after R MiB[, peak device D MiB]".
void print_timings(std::chrono::steady_clock::time_point started);

}  // namespace vsp::app
