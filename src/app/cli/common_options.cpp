// The options every command that loads a model shares (commands.hpp).
#include <cstdlib>
#include "vsp/app/commands.hpp"

#include "vsp/config/job_schema.hpp"

namespace vsp::app {

void add_common_options(CLI::App& app, CommonOptions& common) {
  // VSP_MODEL names the default model for every command, as VSP_STYLES names the style folder.
  if (const char* model = std::getenv("VSP_MODEL"); model && *model) common.model = model;
  // A repeated flag: the last one wins, as for every job option (a script's defaults, then the user's).
  app.add_option("-m,--model", common.model,
                 "Exported model folder (scripts/export.py; default: $VSP_MODEL, else models/sdxl)")
      ->type_name("DIR")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--device", common.device, "auto (the export's device) | cpu | cuda | cuda:N")
      ->type_name("DEVICE")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  add_integer_flag(app, "--threads", common.threads, 0, 1024,
                   "CPU threads (0: LibTorch's default); results are byte-identical only at the same thread count");
  app.add_flag("-q,--quiet", common.quiet, "No progress output");
  app.add_flag("--deterministic", common.deterministic,
               "One image per UNet call: each image byte-identical whatever --batch-size, --num or the jobs batched "
               "with it, at the cost of batching (README, Reproducibility)");
  app.add_flag("--overwrite", common.overwrite,
               "Replace the outputs an earlier run left where this one writes (without it, they are an error)");
}

}  // namespace vsp::app
