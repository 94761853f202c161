#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace vsp::app {

struct Mode;
struct RecordedJob;

// Options shared by every command that loads a model.
struct CommonOptions {
  std::string model = "models/sdxl";
  std::string device = "auto";
  int64_t threads = 0;  // CPU threads; 0: LibTorch's default
  bool quiet = false;
  // One image per UNet call, so an image never depends on which others share its run
  // (README, "Reproducibility").
  bool deterministic = false;
  // Replace an earlier run's outputs instead of refusing them (README, "Output files").
  bool overwrite = false;
  // `vsp rerun IMAGE`: the job the image records, which the command's flags override (null: none).
  const RecordedJob* rerun = nullptr;
};
void add_common_options(CLI::App& app, CommonOptions& common);

// Each command adds its options or subcommand and returns the action to run when it is chosen;
// the action returns the exit code (errors are thrown as vsp::Error and exit 1; usage errors exit 2).
using Action = std::function<int()>;
// A mode's subcommand (`vsp generate`, `vsp edit`, ...), as its schema's CommandKind says.
Action add_mode_command(CLI::App& app, CommonOptions& common, const Mode& mode);
// The kinds: --out names the files (generate) ...
Action add_named_files_command(CLI::App& app, CommonOptions& common, const Mode& mode);
// ... a folder named after the style (style) ...
Action add_style_command(CLI::App& app, CommonOptions& common, const Mode& mode);
// ... or --out is the folder (transfer, edit).
Action add_folder_command(CLI::App& app, CommonOptions& common, const Mode& mode);
// `vsp --style NAME ...` with no subcommand: the style mode's options on the main app.
Action add_style_mode(CLI::App& app, CommonOptions& common);
Action add_styles_command(CLI::App& app, CommonOptions& common);
Action add_batch_command(CLI::App& app, CommonOptions& common);
// `vsp check`: golden images against generated ones, for CI (loads no model; see check.hpp).
Action add_check_command(CLI::App& app, CommonOptions& common);

}  // namespace vsp::app
