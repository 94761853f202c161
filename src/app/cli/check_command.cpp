// `vsp check --golden DIR --actual DIR`: the command line of the regression check (check.cpp).
#include <memory>

#include "vsp/app/check.hpp"
#include "vsp/app/commands.hpp"
#include "vsp/config/job_schema.hpp"

namespace vsp::app {

void add_check_thresholds(CLI::App& app, CheckOptions& options) {
  add_integer_flag(app, "--max-diff", options.max_diff, 0, 255,
                   "Largest tolerated difference of one channel value, 0-255");
  add_number_flag(app, "--min-psnr", options.min_psnr, 0, 1000, "Smallest tolerated PSNR in dB, 0-1000");
}

Action add_check_command(CLI::App& app, CommonOptions& /*common: check loads no model*/) {
  auto options = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand("check", "Compare generated images with golden ones, for CI");
  cmd->footer(
      "Compares every PNG under --actual with the one at the same path under --golden (hidden files skipped).\n"
      "Exit 0: all pass; 1: a regression (too different, other size, unreadable); 2: images missing or extra.\n"
      "Writes REPORT/junit.xml, and REPORT/diffs/<file> (golden | actual | difference x8) for each regression.");
  cmd->add_option("--golden", options->golden, "Folder of the expected images")->type_name("DIR")->required();
  cmd->add_option("--actual", options->actual, "Folder of the images to check")->type_name("DIR")->required();
  add_check_thresholds(*cmd, *options);
  cmd->add_option("--report", options->report, "Folder for junit.xml and diffs/ (created as needed)")
      ->type_name("DIR")
      ->default_str(options->report.string());
  return [options] { return run_check(*options); };
}

}  // namespace vsp::app
