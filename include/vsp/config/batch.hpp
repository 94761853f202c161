#pragma once
#include <cstddef>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vsp::app {

// A deterministic share of a batch: job i belongs to shard i % count, so shards 0..count-1 cover
// every job exactly once however the jobs are ordered or weighted.
struct Shard {
  int index = 0;
  int count = 1;
  bool contains(size_t job_index) const { return static_cast<int>(job_index % count) == index; }
  std::string label() const { return std::to_string(index) + "/" + std::to_string(count); }
};
// "1/4" -> {1, 4}; throws vsp::Error on anything else.
Shard parse_shard(const std::string& text);
// The shard a scheduler gave this process: SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) of
// SLURM_ARRAY_TASK_COUNT, or Kubernetes' JOB_COMPLETION_INDEX of VSP_SHARD_COUNT; none when
// neither is set. Throws vsp::Error on inconsistent values.
std::optional<Shard> shard_from_environment(const std::function<const char*(const char*)>& getenv);

// One job of a jobs file, defaults merged and fields checked.
struct BatchJob {
  size_t index = 0;
  std::string name;  // "name", or job-<index>: the prefix of its output files
  std::string mode;
  std::filesystem::path model;  // "model" (relative to the jobs file), or --model
  nlohmann::json job;           // the whole job, as written to the image metadata
  std::string where() const;    // "jobs[3] ("cat"): " for messages
};

struct BatchFile {
  std::filesystem::path path;
  std::vector<BatchJob> jobs;
};

// Reads and checks a jobs file: {"defaults": {...}, "jobs": [{"mode": ..., ...}, ...]}. Throws
// vsp::Error: "jobs.json:3:14: invalid JSON: ...", or "jobs.json: jobs[3] ("cat"): ...".
BatchFile load_batch_file(const std::filesystem::path& path, const std::filesystem::path& default_model);

}  // namespace vsp::app
