#pragma once
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "vsp/app/progress.hpp"
#include "vsp/pipeline/progress.hpp"

namespace vsp::app {

// Progress of a batch on stderr: on a terminal, a bar over the batch (jobs, images, ETA) above
// the bar of the running jobs' phase (load, inversion, null-text, denoise, decode); otherwise a
// line per finished job and a few per phase, with ETAs; with --log-json, one JSON object per line
// on stdout instead, each naming its "job"; nothing with --quiet.
class BatchProgress {
 public:
  enum class Style { quiet, human, json };
  BatchProgress(Style style, int jobs, int images, int64_t work);

  // Jobs skipped by --resume count as done, with no work.
  void skipped(const std::string& job, int images);
  // A group of jobs (one UNet batch) starts: `label` names them, `work` is their steps x rows.
  // A model load is a group of no work, labelled by the model.
  void group_started(const std::string& label, int64_t work);
  // The group's phase advances; its denoising steps count towards the batch's ETA.
  void step(const pipeline::ProgressEvent& event);
  // One JSON line per job: {"job", "files", "seconds", "status"[, "error"]}; also the summary's.
  void job_finished(const nlohmann::json& summary, int images);
  void finished(const std::string& outcome);

 private:
  void draw(const pipeline::ProgressEvent& event, const PhasePace& pace);
  void emit(nlohmann::json event) const;
  double elapsed() const;
  std::string batch_line() const;

  Style style_;
  bool terminal_;
  bool drawn_ = false;
  int jobs_total_, images_total_;
  int jobs_done_ = 0, images_done_ = 0;
  int64_t work_total_, work_done_ = 0;
  std::string group_label_;
  int64_t group_work_ = 0;
  int64_t group_work_done_ = 0;
  PhaseTracker phases_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace vsp::app
