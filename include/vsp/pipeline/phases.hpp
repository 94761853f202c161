#pragma once
#include <c10/core/Device.h>

#include <string>
#include <vector>

namespace vsp::pipeline {

// Time and peak memory of one phase of a run (load, text, vae-encode, denoise, decode, write),
// summed over every time the phase ran in this process. For --timings and scripts/benchmark*.py.
struct PhaseFigures {
  std::string name;
  double seconds = 0;
  double peak_rss_mib = 0;      // the process's peak resident memory (VmHWM) when the phase last ended
  double rss_mib = 0;           // its resident memory then
  double peak_device_mib = -1;  // the accelerator allocator's peak while it ran; -1 on the CPU
};

// Times the scope it lives in as phase `name`. The resident peak is the process's so far (resetting
// it would hide the true peak from the parent's wait4); the device peak is the phase's own.
class PhaseClock {
 public:
  PhaseClock(std::string name, const c10::Device& device);
  ~PhaseClock();
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

 private:
  std::string name_;
  c10::Device device_;
  double started_;
};

// Every phase recorded so far, in the order each first ran.
std::vector<PhaseFigures> phase_figures();

}  // namespace vsp::pipeline
