#include "vsp/app/batch_progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "vsp/app/progress.hpp"

namespace vsp::app {
namespace {

std::string bar(int64_t done, int64_t total, int width = 24) {
  const int filled = total > 0 ? static_cast<int>(width * done / total) : width;
  return "[" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
}

}  // namespace

BatchProgress::BatchProgress(Style style, int jobs, int images, int64_t work)
    : style_(style),
      terminal_(isatty(STDERR_FILENO) == 1),
      jobs_total_(jobs),
      images_total_(images),
      work_total_(work),
      start_(std::chrono::steady_clock::now()) {
  emit({{"event", "start"}, {"jobs", jobs}, {"images", images}});
}

double BatchProgress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string BatchProgress::batch_line() const {
  const int64_t done = work_done_ + group_work_done_;
  const double eta = done > 0 ? elapsed() / done * (work_total_ - done) : 0;
  char text[160];
  std::snprintf(text, sizeof text, "batch %s %d/%d jobs, %d/%d images, ETA %s", bar(done, work_total_).c_str(),
                jobs_done_, jobs_total_, images_done_, images_total_, done > 0 ? clock_text(eta).c_str() : "-");
  return text;
}

void BatchProgress::skipped(const std::string& job, int images) {
  ++jobs_done_;
  images_done_ += images;
  emit({{"event", "job"}, {"job", job}, {"status", "skipped"}, {"images", images}});
}

void BatchProgress::group_started(const std::string& label, int64_t work) {
  work_done_ += group_work_done_;
  group_label_ = label;
  group_work_ = work;
  group_work_done_ = 0;
  phases_.restart();
  if (style_ == Style::human && !terminal_) std::fprintf(stderr, "%s: %s\n", batch_line().c_str(), label.c_str());
}

void BatchProgress::step(const pipeline::ProgressEvent& event) {
  const auto reading = phases_.take(event);
  if (event.phase == "denoise") group_work_done_ = event.total > 0 ? group_work_ * event.done / event.total : 0;
  nlohmann::json line{
      {"event", "step"}, {"job", group_label_}, {"phase", event.phase}, {"step", event.done}, {"steps", event.total}};
  if (!event.detail.empty()) line["detail"] = event.detail;
  emit(line);
  if (style_ == Style::human && !terminal_ && event.total > 0 && reading.log_line)
    std::fprintf(stderr, "  %s %s %d/%d%s (%.2f it/s, ETA %s)\n", group_label_.c_str(), event.phase.c_str(), event.done,
                 event.total, event.detail.empty() ? "" : (" " + event.detail).c_str(), reading.pace.rate,
                 reading.pace.rate > 0 ? clock_text(reading.pace.eta).c_str() : "-");
  draw(event, reading.pace);
}

void BatchProgress::job_finished(const nlohmann::json& summary, int images) {
  ++jobs_done_;
  images_done_ += images;
  auto event = summary;
  event["event"] = "job";
  emit(event);
  if (style_ == Style::human && !terminal_)
    std::fprintf(stderr, "%s: %s %s in %.1f s\n", batch_line().c_str(), summary.value("job", "").c_str(),
                 summary.value("status", "").c_str(), summary.value("seconds", 0.0));
}

void BatchProgress::finished(const std::string& outcome) {
  work_done_ += group_work_done_;
  group_work_done_ = 0;
  emit({{"event", "done"},
        {"outcome", outcome},
        {"jobs", jobs_done_},
        {"images", images_done_},
        {"seconds", elapsed()}});
  if (style_ != Style::human) return;
  if (terminal_ && drawn_) std::fprintf(stderr, "\n");
  std::fprintf(stderr, "batch %s: %d/%d jobs, %d/%d images in %s\n", outcome.c_str(), jobs_done_, jobs_total_,
               images_done_, images_total_, clock_text(elapsed()).c_str());
}

void BatchProgress::draw(const pipeline::ProgressEvent& event, const PhasePace& pace) {
  if (style_ != Style::human || !terminal_) return;
  // Two lines, redrawn in place: move up to the batch line, rewrite both, clear what is left.
  if (drawn_) std::fprintf(stderr, "\x1b[1A\r");
  std::fprintf(stderr, "%s\x1b[K\n  %s %s %s %d/%d %.2f it/s%s\x1b[K", batch_line().c_str(), group_label_.c_str(),
               event.phase.c_str(), bar(event.done, event.total, 20).c_str(), event.done, event.total, pace.rate,
               event.detail.empty() ? "" : (" " + event.detail).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void BatchProgress::emit(nlohmann::json event) const {
  if (style_ != Style::json) return;
  event["elapsed"] = elapsed();
  std::printf("%s\n", event.dump().c_str());
  std::fflush(stdout);
}

}  // namespace vsp::app
