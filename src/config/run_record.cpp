// The rule that a run's output folder never mixes its files with another run's: the record a
// folder run keeps, the check before any compute, and --overwrite's removal of earlier outputs.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "vsp/config/output_files.hpp"
#include "vsp/config/parse_json.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

namespace fs = std::filesystem;

bool hidden(const fs::path& name) { return name.filename().string().rfind('.', 0) == 0; }

// The files an earlier run recorded; a record that cannot be read records nothing.
std::set<fs::path> recorded_files(const fs::path& folder) {
  std::ifstream in(folder / kRunRecord, std::ios::binary);
  if (!in) return {};
  std::set<fs::path> files;
  try {
    const auto record = parse_json(std::string(std::istreambuf_iterator<char>(in), {}), kRunRecord);
    for (const auto& file : record.at("files")) files.insert(fs::path(file.get<std::string>()).lexically_normal());
  } catch (const std::exception&) {
    return {};
  }
  return files;
}

std::set<fs::path> normal(const std::vector<fs::path>& files) {
  std::set<fs::path> set;
  for (const auto& file : files) set.insert(file.lexically_normal());
  return set;
}

// "a.png, b.png and 3 more".
std::string some_of(std::vector<fs::path> files) {
  std::sort(files.begin(), files.end());
  std::vector<std::string> names;
  for (size_t i = 0; i < files.size() && i < 3; ++i) names.push_back(files[i].string());
  return join(names) + (files.size() > 3 ? " and " + std::to_string(files.size() - 3) + " more" : "");
}

}  // namespace

namespace {

// The earlier outputs that --overwrite removes; throws where the folder may not be used.
std::vector<fs::path> earlier_outputs(const RunFiles& run, EarlierOutputs earlier) {
  std::error_code ec;
  if (!fs::is_directory(run.folder, ec)) return {};
  const auto recorded = recorded_files(run.folder);
  const auto mine = normal(run.mine), ours = normal(run.ours);
  // replaced: this run's files that exist; other_runs: an earlier run's that this one would not write.
  std::vector<fs::path> foreign, replaced, other_runs;
  fs::recursive_directory_iterator entry(run.folder, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && entry != end && foreign.size() < 4; entry.increment(ec)) {
    if (hidden(entry->path())) {
      if (entry->is_directory(ec)) entry.disable_recursion_pending();
      continue;
    }
    if (entry->is_directory(ec)) continue;
    const auto file = entry->path().lexically_relative(run.folder);
    if (mine.count(file))
      replaced.push_back(file);
    else if (recorded.count(file) && !ours.count(file))
      other_runs.push_back(file);
    else if (!ours.count(file))
      foreign.push_back(file);
  }
  if (ec) throw Error("cannot list the output folder " + run.folder.string() + " (" + ec.message() + ")");
  if (!foreign.empty())
    throw Error(run.folder.string() + " holds files vsp did not write (" + some_of(foreign) +
                "); choose a new or empty --out (a run's folder holds only its own outputs)");
  if (earlier == EarlierOutputs::resume && other_runs.empty()) return {};
  auto earlier_outputs = other_runs;
  earlier_outputs.insert(earlier_outputs.end(), replaced.begin(), replaced.end());
  if (earlier_outputs.empty() || earlier == EarlierOutputs::overwrite) return earlier_outputs;
  throw Error(run.folder.string() + " holds the outputs of an earlier run (" + some_of(earlier_outputs) +
              "); pass --overwrite to replace them" + run.resume_hint + ", or choose another --out");
}

}  // namespace

void claim_output_folder(const RunFiles& run, EarlierOutputs earlier) {
  std::error_code ec;
  for (const auto& file : earlier_outputs(run, earlier)) {
    if (!fs::remove(run.folder / file, ec) && ec)
      throw Error("cannot remove " + (run.folder / file).string() + " (" + ec.message() + ") for --overwrite");
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& file : normal(run.ours)) files.push_back(file.generic_string());
  // Written whole and renamed into place: shards of one batch write the same record.
  const auto record = run.folder / kRunRecord;
  const auto temporary = run.folder / (std::string(kRunRecord) + ".tmp-" + std::to_string(::getpid()));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << nlohmann::json{{"format", "vsp-run"}, {"files", files}}.dump(1) << "\n";
    if (!out) throw Error("cannot write " + record.string() + "; check that the folder is writable");
  }
  fs::rename(temporary, record, ec);
  if (ec) throw Error("cannot write " + record.string() + " (" + ec.message() + ")");
}

void check_named_files(const RunFiles& run, EarlierOutputs earlier) {
  if (earlier == EarlierOutputs::overwrite) return;
  std::vector<fs::path> existing;
  std::error_code ec;
  for (const auto& file : run.mine)
    if (fs::exists(run.folder / file, ec)) existing.push_back(run.folder / file);
  if (existing.empty()) return;
  throw Error(some_of(existing) + (existing.size() == 1 ? " exists" : " exist") + "; pass --overwrite to replace " +
              (existing.size() == 1 ? "it" : "them") + ", or choose another --out");
}

}  // namespace vsp::app
