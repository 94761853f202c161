#pragma once
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace vsp::app {

// Progress of a batch on stderr: on a terminal, a bar over the batch (jobs, images, ETA) above
// the step bar of the jobs running now; otherwise a line per finished job and a few per run;
// with --log-json, one JSON object per line on stdout instead; nothing with --quiet.
class BatchProgress {
 public:
  enum class Style { quiet, human, json };
  BatchProgress(Style style, int jobs, int images, int64_t work);

  // Jobs skipped by --resume count as done, with no work.
  void skipped(const std::string& job, int images);
  // A group of jobs (one UNet batch) starts: `label` names them, `work` is their steps x rows.
  void group_started(const std::string& label, int64_t work);
  void step(int done, int total);
  // One JSON line per job: {"job", "files", "seconds", "status"[, "error"]}; also the summary's.
  void job_finished(const nlohmann::json& summary, int images);
  void finished(const std::string& outcome);

 private:
  void draw(int step_done, int step_total);
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
  std::chrono::steady_clock::time_point start_, group_start_;
};

}  // namespace vsp::app
