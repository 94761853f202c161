// vsp: SDXL from TorchScript exports, with attention control (see README.md).
#include <torch/torch.h>

#include <cstdio>
#include <map>

#include "vsp/app/commands.hpp"
#include "vsp/app/error_text.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/app/metadata.hpp"
#include "vsp/app/rerun.hpp"
#include "vsp/config/modes.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"
#include "vsp/io/log.hpp"

namespace {

// Exit codes (README, "Exit codes"): 0 done, 1 an error in the input or the run, 2 a usage error
// on the command line, 130 interrupted. vsp check also exits 1 on a regression, 2 on missing files.
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int fail(int code, std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

// "generat" -> "unknown command 'generat'; did you mean 'generate'?", for a word CLI11 left over.
std::string unknown_command(const std::string& word, const std::vector<std::string>& commands) {
  return "unknown command '" + word + "'" + vsp::did_you_mean(word, commands, "'") +
         " (commands: " + vsp::join(commands) + "; vsp --help)";
}

// "--to -o out/r": CLI11 gives an option its first value even when that value is one of the
// command's flags (an empty shell variable leaves the option none), so a run would quietly take
// "-o" as a prompt. Returns the message for the first such value, else "".
std::string swallowed_flag(const CLI::App& command) {
  for (const CLI::Option* option : command.get_options()) {
    for (const auto& value : option->results()) {
      if (value.size() < 2 || value[0] != '-') continue;
      const std::string name = value.substr(0, value.find('='));
      if (command.get_option_no_throw(name) == nullptr) continue;
      return option->get_name() + " has no value: the word after it is the flag " + name + "; give " +
             option->get_name() + " a value (in a script, check the variable is not empty)";
    }
  }
  return "";
}

// "--stpes 3": the first word shaped like a flag that the command does not have, with the closest
// of its flags. Returns "" when every flag is known (the leftover is something else).
std::string unknown_flag(const CLI::App& command, int argc, char** argv) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options())
    for (const auto& name : option->get_lnames()) names.push_back("--" + name);
  const std::string help = command.get_parent() == nullptr ? "vsp --help" : "vsp " + command.get_name() + " --help";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.size() < 3 || word.rfind("--", 0) != 0) continue;
    const std::string name = word.substr(0, word.find('='));
    if (command.get_option_no_throw(name) != nullptr) continue;
    return "unknown flag " + name + vsp::did_you_mean(name, names, "") + " (see " + help + ")";
  }
  return "";
}

// "--no-color-calibration=maybe": CLI11 reads a flag's value as a count and throws a bare
// std::invalid_argument on words it does not know. The flag, named, for the message.
std::string bad_flag_value(const CLI::App& command, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    const size_t equals = word.find('=');
    if (word.rfind("--", 0) != 0 || equals == std::string::npos) continue;
    const CLI::Option* option = command.get_option_no_throw(word.substr(0, equals));
    if (option != nullptr && option->get_expected_min() == 0)
      return word.substr(0, equals) + " is a switch: give it alone, or =true / =false, not '" +
             word.substr(equals + 1) + "'";
  }
  return "";
}

// What to lower when the chosen command runs out of memory, in its own flags.
std::string memory_advice(const std::string& command) {
  if (command == "batch") return "lower --batch-size or the jobs' width and height";
  for (const auto* mode : vsp::app::all_mode_schemas())
    if (mode->name == command) return mode->memory_advice;
  return "lower the size";
}

// CLI11's help, with a negatable flag shown as "--x,--no-x" rather than "--x,--no-x{false}".
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_name(const CLI::Option* option, bool is_positional) const override {
    auto name = CLI::Formatter::make_option_name(option, is_positional);
    for (const std::string mark : {"{false}", "{true}"})
      for (auto at = name.find(mark); at != std::string::npos; at = name.find(mark)) name.erase(at, mark.size());
    return name;
  }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace vsp::app;
  CLI::App app{
      "vsp " + vsp_version() +
      ": Stable Diffusion (SDXL, SD 1.x and 2.x) from TorchScript exports, with visual style prompting, "
      "style injection and prompt-to-prompt editing.\n"
      "Examples:\n"
      "  vsp --style fire                        the fire style on its default objects\n"
      "  vsp --style watercolor --object \"a fox\" --num 4 --out foxes\n"
      "  vsp --style-image \"The starry night.png\" --object \"a cat\"\n"
      "  vsp styles                              list the styles\n"
      "  vsp generate --prompt \"a lighthouse at dusk\" --steps 30 --seed 7 --out lighthouse.png\n"
      "  vsp generate --prompt \"a (red:1.3) fox\" --image sketch.png --strength 0.6 --sampler \"Euler a\" --out "
      "fox.png\n"
      "  vsp rerun fox.png --seed 8 --out fox8.png  the job an image records, again (flags change it)\n"
      "  vsp batch jobs.json --out renders --resume   every job of a jobs file\n"
      "  vsp check --golden golden --actual out    compare images for CI (exit 1: regression, 2: missing/extra)\n"
      "Run vsp COMMAND --help for a command's flags. Exit codes: 0 done, 1 error, 2 usage error, 130 interrupted."};
  app.formatter(std::make_shared<HelpFormatter>());  // before the subcommands, which copy it
  app.set_version_flag("--version", vsp_version());
  app.require_subcommand(0, 1);
  CommonOptions common;
  add_common_options(app, common);
  const Action style_mode = add_style_mode(app, common);
  std::map<std::string, Action> commands;
  for (const Mode* mode : all_modes()) commands[mode->name] = add_mode_command(app, common, *mode);
  commands["styles"] = add_styles_command(app, common);
  commands["batch"] = add_batch_command(app, common);
  commands["check"] = add_check_command(app, common);
  // `vsp rerun IMAGE [flags]` runs as the image's own command, its recorded job under the flags.
  app.add_subcommand("rerun", "Run the job a vsp PNG records again: vsp rerun IMAGE.png [flags of its command]")
      ->allow_extras();
  commands["rerun"] = []() -> int {
    throw vsp::UsageError(
        "vsp rerun takes a PNG that vsp wrote right after it, and the flags that change its job after the image: "
        "vsp rerun IMAGE.png [flags]");
  };
  RecordedJob recorded;
  std::vector<std::string> line(argv, argv + argc);
  try {
    line = rerun_command_line(line, recorded);
  } catch (const vsp::Error& e) {
    return fail(kExitError, e.what());
  } catch (const std::exception& e) {  // a damaged chunk must not abort
    return fail(kExitError, std::string("cannot read the job recorded in ") + argv[2] + ": " + e.what());
  }
  if (recorded.mode) common.rerun = &recorded;
  std::vector<char*> line_argv;
  for (auto& word : line) line_argv.push_back(word.data());
  argc = static_cast<int>(line_argv.size());
  argv = line_argv.data();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const std::logic_error&) {
    const auto chosen = app.get_subcommands();
    const std::string flag = bad_flag_value(chosen.empty() ? app : *chosen.front(), argc, argv);
    return fail(kExitUsage, flag.empty() ? "a flag's value could not be read; see vsp --help" : flag);
  } catch (const CLI::ParseError& e) {
    // A flag taken as a value leaves the rest of the line out of place: name the cause, not that.
    const auto chosen = app.get_subcommands();
    const std::string swallowed = swallowed_flag(chosen.empty() ? app : *chosen.front());
    if (!swallowed.empty()) return fail(kExitUsage, swallowed);
    if (dynamic_cast<const CLI::ExtrasError*>(&e) == nullptr) {
      const std::string help = chosen.empty() ? "vsp --help" : "vsp " + chosen.front()->get_name() + " --help";
      return fail(kExitUsage, std::string(e.what()) + "; see " + help);
    }
    // A flag the command does not have is most likely a typo of one it has.
    if (const std::string flag = unknown_flag(chosen.empty() ? app : *chosen.front(), argc, argv); !flag.empty())
      return fail(kExitUsage, flag);
    // A word where a command goes is most likely a mistyped command.
    if (chosen.empty() && argc > 1 && argv[1][0] != '-') {
      std::vector<std::string> names;
      for (const auto& [name, action] : commands) names.push_back(name);
      return fail(kExitUsage, unknown_command(argv[1], names));
    }
    return fail(kExitUsage, std::string(e.what()) + "; see vsp --help");
  }
  const auto chosen = app.get_subcommands();
  const CLI::App& command = chosen.empty() ? app : *chosen.front();
  if (const std::string swallowed = swallowed_flag(command); !swallowed.empty()) return fail(kExitUsage, swallowed);
  // --deterministic fixes the images per UNet call at one: a --batch-size beside it would do nothing.
  const CLI::Option* batch_size = command.get_option_no_throw("--batch-size");
  if (common.deterministic && batch_size != nullptr && batch_size->count() > 0)
    return fail(kExitUsage,
                "--deterministic runs one image per UNet call, so --batch-size would do nothing; "
                "drop one of them");
  vsp::log::set_level(common.quiet ? vsp::log::Level::quiet : vsp::log::Level::normal);
  if (common.threads > 0) at::set_num_threads(static_cast<int>(common.threads));
  try {
    if (!chosen.empty()) return commands.at(command.get_name())();
    if (app.count("--style") > 0 || app.count("--style-image") > 0) return style_mode();
    std::printf("%s", app.help().c_str());
  } catch (const vsp::UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const vsp::Error& e) {
    return fail(kExitError, e.what());
  } catch (const std::exception& e) {
    return fail(kExitError, failure_text(e, memory_advice(chosen.empty() ? "style" : command.get_name())));
  }
  return 0;
}
