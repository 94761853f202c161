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
      start_(std::chrono::steady_clock::now()),
      group_start_(start_) {
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
  group_start_ = std::chrono::steady_clock::now();
  if (style_ == Style::human && !terminal_) std::fprintf(stderr, "%s: %s\n", batch_line().c_str(), label.c_str());
  draw(0, 1);
}

void BatchProgress::step(int done, int total) {
  group_work_done_ = total > 0 ? group_work_ * done / total : 0;
  emit({{"event", "step"}, {"jobs", group_label_}, {"step", done}, {"steps", total}});
  draw(done, total);
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

void BatchProgress::draw(int step_done, int step_total) {
  if (style_ != Style::human || !terminal_) return;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - group_start_).count();
  const double rate = seconds > 0 ? step_done / seconds : 0;
  // Two lines, redrawn in place: move up to the batch line, rewrite both, clear what is left.
  if (drawn_) std::fprintf(stderr, "\x1b[1A\r");
  std::fprintf(stderr, "%s\x1b[K\n  %s %s %d/%d %.2f it/s\x1b[K", batch_line().c_str(), group_label_.c_str(),
               bar(step_done, step_total, 20).c_str(), step_done, step_total, rate);
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
