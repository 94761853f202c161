#pragma once
#include <chrono>
#include <string>

#include "vsp/pipeline/progress.hpp"

namespace vsp::app {

// A phase's rate and ETA from the units done in `seconds` (done - first_done of them) and those left.
struct PhasePace {
  double rate = 0;  // units per second
  double eta = 0;   // seconds left
};

// Follows the phases of a run's reports, for the single-job and the batch displays alike.
class PhaseTracker {
 public:
  struct Reading {
    bool new_phase = false;  // the report starts a phase
    bool log_line = false;   // a log gets a line: a phase starts, at each tenth, after 10 s without one, at its end
    double elapsed = 0;      // seconds since the phase started
    PhasePace pace;
  };
  // A report whose phase has another name, or counts down (the phase runs again), starts a phase,
  // whose clock starts at the previous report: its first unit ran since then.
  Reading take(const pipeline::ProgressEvent& event);
  void restart();  // the next report starts a phase (a new group of jobs)

 private:
  std::string phase_;
  int first_done_ = 0;  // units done before the phase's clock started
  int last_done_ = 0;
  int last_tenth_ = -1;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_line_ = start_,
                                        last_event_ = start_;
};

// Progress of each long phase (load, inversion, null-text, denoise, decode) on stderr: a redrawn
// bar with it/s and ETA on a terminal; otherwise plain lines with the ETA (PhaseTracker's log
// lines); nothing with --quiet.
class Progress {
 public:
  Progress(std::string label, bool quiet);
  void update(const pipeline::ProgressEvent& event);

 private:
  std::string label_;
  bool quiet_;
  bool terminal_;
  bool bar_open_ = false;
  PhaseTracker phases_;
};

// "1:05" for 65 seconds.
std::string clock_text(double seconds);

// On stderr (--timings; scripts/benchmark*.py read them): "timings: load X s, generate Y s" (since
// `started`, less the load and write phases), then for each phase recorded so far "timings: phase
// NAME S s, peak RSS M MiB, RSS after R MiB[, peak device D MiB]".
void print_timings(std::chrono::steady_clock::time_point started);

}  // namespace vsp::app
