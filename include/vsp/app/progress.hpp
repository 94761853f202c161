#pragma once
#include <chrono>
#include <string>

#include "vsp/pipeline/progress.hpp"

namespace vsp::app {

// Progress of each long phase (load, inversion, null-text, denoise, decode) on stderr: a redrawn
// bar with it/s and ETA on a terminal; otherwise plain lines with the ETA, one when a phase starts,
// at each tenth of it, after 10 s without one, and at its end; nothing with --quiet.
class Progress {
 public:
  Progress(std::string label, bool quiet);
  void update(const pipeline::ProgressEvent& event);

 private:
  std::string label_;
  bool quiet_;
  bool terminal_;
  std::string phase_;
  int phase_first_done_ = 0;  // units done before the phase's clock started
  int last_done_ = 0;
  bool bar_open_ = false;
  int last_tenth_ = -1;
  // A phase starts where the last report left off: its first unit's time counts.
  std::chrono::steady_clock::time_point start_, last_line_, last_event_;
};

// A phase's rate and ETA from the units done in `seconds` (done - first_done of them) and those left.
struct PhasePace {
  double rate = 0;  // units per second
  double eta = 0;   // seconds left
};
PhasePace phase_pace(int done, int first_done, int total, double seconds);

// "1:05" for 65 seconds.
std::string clock_text(double seconds);

// On stderr (--timings; scripts/benchmark*.py read them): "timings: load X s, generate Y s" (since
// `started`, less the load and write phases), then for each phase recorded so far "timings: phase
// NAME S s, peak RSS M MiB, RSS after R MiB[, peak device D MiB]".
void print_timings(std::chrono::steady_clock::time_point started);

}  // namespace vsp::app
