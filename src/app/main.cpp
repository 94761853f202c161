// vsp: SDXL from TorchScript exports, with attention control (see README.md).
#include <torch/torch.h>

#include <cstdio>
#include <map>

#include "vsp/app/commands.hpp"
#include "vsp/app/metadata.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"

int main(int argc, char** argv) {
  using namespace vsp::app;
  CLI::App app{"vsp " + vsp_version() +
               ": Stable Diffusion XL from TorchScript exports, with visual style prompting.\n"
               "Example: vsp generate --prompt \"a lighthouse at dusk\" --steps 30 --seed 7 --out lighthouse.png"};
  app.set_version_flag("--version", vsp_version());
  app.require_subcommand(1);
  CommonOptions common;
  app.add_option("-m,--model", common.model, "Exported model folder (scripts/export.py)")->capture_default_str();
  app.add_option("--device", common.device, "auto (the export's device) | cpu | cuda | cuda:N")->capture_default_str();
  app.add_flag("-q,--quiet", common.quiet, "No progress output");
  app.fallthrough();

  std::map<CLI::App*, Action> actions;
  const auto add = [&](Action action) { actions[app.get_subcommands({}).back()] = std::move(action); };
  add(add_generate_command(app, common));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  vsp::log::set_level(common.quiet ? vsp::log::Level::quiet : vsp::log::Level::normal);
  try {
    for (auto* sub : app.get_subcommands()) actions.at(sub)();
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
