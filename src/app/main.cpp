// vsp: SDXL from TorchScript exports, with attention control (see README.md).
#include <torch/torch.h>

#include <cstdio>
#include <map>

#include "vsp/app/commands.hpp"
#include "vsp/app/metadata.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"

namespace vsp::app {

void add_common_options(CLI::App& app, CommonOptions& common) {
  app.add_option("-m,--model", common.model, "Exported model folder (scripts/export.py)")->capture_default_str();
  app.add_option("--device", common.device, "auto (the export's device) | cpu | cuda | cuda:N")->capture_default_str();
  app.add_flag("-q,--quiet", common.quiet, "No progress output");
}

}  // namespace vsp::app

int main(int argc, char** argv) {
  using namespace vsp::app;
  CLI::App app{"vsp " + vsp_version() +
               ": Stable Diffusion XL from TorchScript exports, with visual style prompting.\n"
               "Examples:\n"
               "  vsp --style fire                        the fire style on its default objects\n"
               "  vsp --style watercolor --object \"a fox\" --num 4 --out foxes\n"
               "  vsp --style-image \"The starry night.png\" --object \"a cat\"\n"
               "  vsp styles                              list the styles\n"
               "  vsp generate --prompt \"a lighthouse at dusk\" --steps 30 --seed 7 --out lighthouse.png\n"
               "  vsp batch jobs.json --out renders --resume   every job of a jobs file\n"
               "  vsp check --golden golden --actual out    compare images for CI (exit 1: regression, 2: missing/extra)\n"
               "Run vsp COMMAND --help for a command's flags."};
  app.set_version_flag("--version", vsp_version());
  app.require_subcommand(0, 1);
  CommonOptions common;
  add_common_options(app, common);
  const Action style_mode = add_style_mode(app, common);
  std::map<std::string, Action> commands{{"generate", add_generate_command(app, common)},
                                         {"style", add_style_command(app, common)},
                                         {"styles", add_styles_command(app, common)},
                                         {"batch", add_batch_command(app, common)},
                                         {"check", add_check_command(app, common)}};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  vsp::log::set_level(common.quiet ? vsp::log::Level::quiet : vsp::log::Level::normal);
  try {
    const auto chosen = app.get_subcommands();
    if (!chosen.empty()) return commands.at(chosen.front()->get_name())();
    if (app.count("--style") > 0 || app.count("--style-image") > 0) return style_mode();
    std::printf("%s", app.help().c_str());
  } catch (const vsp::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    std::fprintf(stderr, "error: %s\n", what.substr(0, what.find('\n')).c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
