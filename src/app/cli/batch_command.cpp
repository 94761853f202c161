// `vsp batch jobs.json`: every job of a jobs file, checked first, run with each model loaded once,
// resumable, shardable, and optionally checked against golden images.
#include <torch/torch.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <map>
#include <set>

#include "vsp/app/batch_progress.hpp"
#include "vsp/app/check.hpp"
#include "vsp/app/commands.hpp"
#include "vsp/app/error_text.hpp"
#include "vsp/app/job_result.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/app/progress.hpp"
#include "vsp/config/batch.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"
#include "vsp/models/model.hpp"
#include "vsp/pipeline/phases.hpp"

namespace vsp::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct BatchOptions {
  std::string jobs_file;
  std::string out;
  bool resume = false;
  std::string shard;
  std::string golden;
  CheckOptions check;
  int64_t batch_size = 4;
  bool log_json = false;
  bool timings = false;
};

// Ctrl-C or SIGTERM asks the batch to stop at the next step; a second one kills at once.
std::atomic<bool> stop_requested{false};
extern "C" void request_stop(int signal) {
  stop_requested = true;
  std::signal(signal, SIG_DFL);
}
struct Interrupted {};

struct PlannedBatchJob {
  const BatchJob* source;
  std::string model_key;                // the model folder, however its path was spelled
  std::unique_ptr<PlannedJob> planned;  // null when the model could not be read
  std::string model_error;              // why, recorded as the job's failure
};

// One key per model folder, so ./m, m/ and /abs/m load once.
// Each shard writes its own summary; a whole batch writes summary.jsonl.
std::string summary_file(const Shard& shard) {
  return shard.count > 1
             ? "summary-shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count) + ".jsonl"
             : "summary.jsonl";
}

std::string model_key(const fs::path& model) {
  std::error_code ec;
  const auto canonical = fs::weakly_canonical(model, ec);
  return (ec ? model.lexically_normal() : canonical).string();
}

// Plans every job of the file (not only this shard's, so every shard sees the same errors and
// names) against its model's manifest. A model that cannot be read fails its jobs, not the batch.
std::vector<PlannedBatchJob> plan_all(const BatchFile& batch, int64_t batch_size, bool deterministic,
                                      std::map<std::string, models::Manifest>& manifests) {
  std::vector<PlannedBatchJob> planned;
  std::map<std::string, std::string> unreadable;
  OutputClaims claims("give them different \"name\"s");
  for (const auto& job : batch.jobs) {
    const std::string where = batch.path.string() + ": " + job.where();
    const std::string key = model_key(job.model);
    if (!manifests.count(key) && !unreadable.count(key)) {
      try {
        manifests.emplace(key, models::Manifest::load(job.model));
      } catch (const Error& e) {
        unreadable.emplace(key, e.what());
      }
    }
    if (unreadable.count(key)) {
      planned.push_back({&job, key, nullptr, unreadable.at(key)});
      continue;
    }
    const Mode& mode = find_mode(job.mode, where);
    try {
      auto plan =
          mode.plan(job.job, {manifests.at(key), job.name, batch.path.parent_path(), batch_size, deterministic});
      check_outputs(*plan, manifests.at(key), true, mode.memory_advice);
      planned.push_back({&job, key, std::move(plan), ""});
    } catch (const Error& e) {
      throw Error(where + in_jobs_terms(e.what(), mode.options));
    }
    try {
      claim_outputs(*planned.back().planned, claims, "jobs[" + std::to_string(job.index) + "]");
    } catch (const Error& e) {
      throw Error(batch.path.string() + ": " + in_jobs_terms(e.what(), mode.options));
    }
  }
  return planned;
}

class BatchRun {
 public:
  BatchRun(const fs::path& out, const std::string& summary_name, BatchProgress& progress)
      : out_(out), summary_(out / summary_name), progress_(progress) {}

  // Runs the jobs of one model, compatible neighbours batched up to batch_size rows.
  void run_model(const std::vector<const PlannedBatchJob*>& jobs, models::Model& model, int64_t batch_size) {
    for (size_t first = 0; first < jobs.size();) {
      std::vector<const PlannedBatchJob*> group{jobs[first]};
      const auto key = jobs[first]->planned->group_key();
      int64_t rows = jobs[first]->planned->rows;
      while (!key.empty() && first + group.size() < jobs.size()) {
        const auto* next = jobs[first + group.size()];
        if (next->planned->group_key() != key || next->planned->loras != jobs[first]->planned->loras ||
            rows + next->planned->rows > std::max<int64_t>(batch_size, 1))
          break;
        rows += next->planned->rows;
        group.push_back(next);
      }
      run_group(group, model);
      first += group.size();
    }
  }

  void record(const BatchJob& job, const std::vector<fs::path>& files, double seconds, const std::string& status,
              const std::string& error = "") {
    json line = {{"job", job.name},        {"index", job.index}, {"mode", job.mode},
                 {"files", json::array()}, {"seconds", seconds}, {"status", status}};
    for (const auto& f : files) line["files"].push_back(f.lexically_relative(out_).string());
    if (!error.empty()) line["error"] = error;
    summary_ << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n" << std::flush;
    if (status == "failed") ++failed_;
    recorded_.insert(job.index);
    progress_.job_finished(line, static_cast<int>(files.size()));
  }
  bool recorded(const BatchJob& job) const { return recorded_.count(job.index) > 0; }

  int failed() const { return failed_; }

 private:
  void run_group(const std::vector<const PlannedBatchJob*>& group, models::Model& model) {
    std::string label;
    int64_t work = 0;
    std::vector<const PlannedJob*> jobs;
    for (const auto* job : group) {
      label += (label.empty() ? "" : ", ") + job->source->name;
      work += job->planned->work;
      jobs.push_back(job->planned.get());
    }
    const auto started = std::chrono::steady_clock::now();
    const auto seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() / group.size();
    };
    std::vector<JobResult> results;
    try {
      if (stop_requested) throw Interrupted{};  // a stop during the model load or between groups
      progress_.group_started(label, work);
      model.set_loras(jobs.front()->loras);
      results = jobs.front()->run_group(jobs, model, [&](const pipeline::ProgressEvent& event) {
        progress_.step(event);
        if (stop_requested) throw Interrupted{};
      });
    } catch (const Interrupted&) {
      for (const auto* job : group) record(*job->source, {}, seconds(), "interrupted");
      throw;
    } catch (const std::exception& e) {
      log::warn(label + ": " + error_text(e));
      for (const auto* job : group) record(*job->source, {}, seconds(), "failed", error_text(e));
      return;
    }
    // Each job's files on their own: one job's failed write fails that job only.
    for (size_t i = 0; i < group.size(); ++i) {
      try {
        record(*group[i]->source, write_outputs(*jobs[i], results[i], out_, model.manifest), seconds(), "done");
      } catch (const std::exception& e) {
        log::warn(group[i]->source->name + ": " + error_text(e));
        record(*group[i]->source, {}, seconds(), "failed", error_text(e));
      }
    }
  }

  fs::path out_;
  std::ofstream summary_;
  BatchProgress& progress_;
  std::set<size_t> recorded_;
  int failed_ = 0;
};

int run_batch(const BatchOptions& o, const CommonOptions& common) {
  if (o.resume && common.overwrite)
    throw UsageError("--resume keeps the batch's earlier outputs and --overwrite removes them: pass one");
  const auto started = std::chrono::steady_clock::now();
  const auto batch = load_batch_file(o.jobs_file, common.model);
  const Shard shard = !o.shard.empty() ? parse_shard(o.shard) : shard_from_environment(std::getenv).value_or(Shard{});
  if (shard.count > 1 && !o.golden.empty())
    throw Error("--check compares the whole batch; with --shard, run vsp check once every shard has finished");
  if (!o.golden.empty() && !fs::is_directory(o.golden))
    throw Error("golden folder " + o.golden + " does not exist; give --check an existing folder of golden images");
  const fs::path out = o.out.empty() ? fs::path("out") / fs::path(o.jobs_file).stem() : fs::path(o.out);
  std::map<std::string, models::Manifest> manifests;
  // --deterministic: one image per UNet call, so no jobs are batched and no job's batch_size applies.
  const int64_t batch_size = common.deterministic ? 1 : o.batch_size;
  if (common.deterministic) {
    std::vector<std::string> sized;
    for (const auto& job : batch.jobs)
      if (job.job.contains("batch_size")) sized.push_back(job.name);
    if (!sized.empty())
      log::warn("--deterministic runs one image per UNet call: the batch_size of " + join(sized, ", ") +
                " is not used");
  }
  const auto planned = plan_all(batch, batch_size, common.deterministic, manifests);

  // This shard's jobs, grouped by model in the order the models first appear.
  std::vector<std::string> model_order;
  std::map<std::string, std::vector<const PlannedBatchJob*>> by_model;
  std::vector<const PlannedBatchJob*> skipped, unreadable;
  int images = 0;
  int64_t work = 0;
  int shard_jobs = 0;
  for (const auto& job : planned) {
    if (!shard.contains(job.source->index)) continue;
    ++shard_jobs;
    if (!job.planned) {
      unreadable.push_back(&job);
      continue;
    }
    images += static_cast<int>(job.planned->outputs.size());
    if (o.resume && outputs_up_to_date(*job.planned, out, manifests.at(job.model_key))) {
      skipped.push_back(&job);
      continue;
    }
    if (!by_model.count(job.model_key)) model_order.push_back(job.model_key);
    by_model[job.model_key].push_back(&job);
    work += job.planned->work;
  }

  const std::string summary_name = summary_file(shard);
  // This shard's outputs, and the batch's (every shard's, with the summaries): shards of one
  // batch share the folder, and a summary alone is no earlier output (the lock makes it).
  RunFiles run_files{out, {}, {}, ", or --resume to finish that batch"};
  for (const auto& job : planned)
    if (job.planned)
      for (const auto& file : output_files(*job.planned)) {
        run_files.ours.push_back(file);
        if (shard.contains(job.source->index)) run_files.mine.push_back(file);
      }
  for (int index = 0; index < shard.count; ++index) run_files.ours.push_back(summary_file(Shard{index, shard.count}));
  auto files = run_files.mine;
  files.push_back(summary_name);
  check_creatable(out, files);
  // Two runs of one shard (or of the whole batch) may not share the folder.
  const OutputFolderLock lock(out, summary_name);
  claim_output_folder(run_files, o.resume           ? EarlierOutputs::resume
                                 : common.overwrite ? EarlierOutputs::overwrite
                                                    : EarlierOutputs::refuse);
  // Each output folder once: a thousand generate jobs share one.
  std::set<fs::path> folders{out};
  for (const auto& job : planned)
    if (job.planned)
      for (const auto& output : job.planned->outputs) folders.insert((out / output.file).parent_path());
  for (const auto& folder : folders)
    if (fs::is_directory(folder)) io::remove_stale_temporaries(folder);
  // --log-json is asked for explicitly: it wins over --quiet.
  const auto style = o.log_json     ? BatchProgress::Style::json
                     : common.quiet ? BatchProgress::Style::quiet
                                    : BatchProgress::Style::human;
  BatchProgress progress(style, shard_jobs, images, work);
  BatchRun run(out, summary_name, progress);
  for (const auto* job : unreadable) {
    log::warn(job->source->name + ": " + job->model_error);
    run.record(*job->source, {}, 0, "failed", job->model_error);
  }
  for (const auto* job : skipped) {
    std::vector<fs::path> files;
    for (const auto& output : job->planned->outputs) files.push_back(out / output.file);
    run.record(*job->source, files, 0, "skipped");
  }

  stop_requested = false;
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  try {
    for (const auto& key : model_order) {
      const auto& jobs = by_model[key];
      std::shared_ptr<models::Model> model;
      try {
        pipeline::PhaseClock clock("load", c10::kCPU);
        const auto& folder = jobs.front()->source->model;
        progress.group_started("model " + folder.string(), 0);
        model = models::Model::load(folder, common.device, [&](const std::string& modules, int done, int total) {
          progress.step({"load", done, total, modules});
        });
      } catch (const std::exception& e) {
        // A model that does not load fails its jobs; the other models' jobs still run.
        log::warn(jobs.front()->source->model.string() + ": " + error_text(e));
        for (const auto* job : jobs) run.record(*job->source, {}, 0, "failed", error_text(e));
        continue;
      }
      run.run_model(jobs, *model, batch_size);
    }
  } catch (const Interrupted&) {
    // Every job of this shard appears in the summary: those never started as not-run.
    for (const auto& job : planned)
      if (shard.contains(job.source->index) && !run.recorded(*job.source)) run.record(*job.source, {}, 0, "not-run");
    progress.finished("interrupted");
    std::fprintf(stderr, "interrupted: the images written so far are complete; add --resume to finish the batch\n");
    return 130;
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  progress.finished(run.failed() > 0 ? "finished with failures" : "done");
  if (o.timings) print_timings(started);
  if (run.failed() > 0) {
    std::fprintf(stderr, "error: %d job(s) failed; see %s\n", run.failed(), (out / summary_name).string().c_str());
    return 1;
  }
  if (o.golden.empty()) return 0;
  auto check = o.check;
  check.golden = o.golden;
  check.actual = out;
  return run_check(check);
}

}  // namespace

Action add_batch_command(CLI::App& app, CommonOptions& common) {
  auto options = std::make_shared<BatchOptions>();
  auto* cmd = app.add_subcommand("batch", "Run the jobs of a JSON jobs file (see the README for the format)");
  cmd->add_option("jobs", options->jobs_file, "Jobs file: {\"defaults\": {...}, \"jobs\": [...]}")
      ->type_name("FILE")
      ->required();
  cmd->add_option("-o,--out", options->out, "Output folder (default: out/<jobs file name>)")->type_name("DIR");
  cmd->add_flag("--resume", options->resume, "Skip jobs whose images already exist with the same metadata");
  cmd->add_option("--shard", options->shard,
                  "Run shard INDEX/COUNT: the jobs whose index % COUNT == INDEX (default: from SLURM_ARRAY_TASK_ID or "
                  "JOB_COMPLETION_INDEX, else all)");
  add_integer_flag(*cmd, "--batch-size", options->batch_size, 0, 1024,
                   "Images per UNet call; generate jobs that fit are batched");
  cmd->add_flag("--log-json", options->log_json, "Progress as JSON lines on stdout instead of bars");
  cmd->add_flag("--timings", options->timings, "Print the load and generation times and each phase's (for benchmarks)");
  cmd->add_option("--check", options->golden, "After the batch, compare the images with this golden folder")
      ->type_name("DIR");
  cmd->add_option("--report", options->check.report, "With --check: folder for junit.xml and diff images")
      ->type_name("DIR")
      ->capture_default_str();
  add_check_thresholds(*cmd, options->check);
  add_common_options(*cmd, common);
  return [options, &common] { return run_batch(*options, common); };
}

}  // namespace vsp::app
