#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace vsp::app {

// Options shared by every command that loads a model.
struct CommonOptions {
  std::string model = "models/sdxl";
  std::string device = "auto";
  bool quiet = false;
};

// Each command adds its subcommand and returns the action to run when it was chosen.
using Action = std::function<void()>;
Action add_generate_command(CLI::App& app, CommonOptions& common);

}  // namespace vsp::app
