#include "vsp/app/rerun.hpp"

#include "vsp/app/jobs.hpp"
#include "vsp/config/parse_json.hpp"
#include "vsp/error.hpp"
#include "vsp/io/image.hpp"

namespace vsp::app {

RecordedJob read_recorded_job(const std::filesystem::path& image) {
  const auto chunks = io::read_png_text(image);
  const auto found = chunks.find("vsp");
  if (found == chunks.end())
    throw Error(image.string() +
                " holds no vsp job (no \"vsp\" text chunk: vsp did not write it, or its text "
                "was stripped); vsp rerun reads the PNGs vsp writes");
  const nlohmann::json recorded = parse_json(found->second, image.string() + "'s vsp chunk");
  const auto field = [&](const char* key) -> const nlohmann::json& {
    if (!recorded.is_object() || !recorded.contains(key))
      throw Error(image.string() + "'s vsp chunk has no \"" + std::string(key) +
                  "\" (written by an earlier vsp); run its command again, the job is in that chunk");
    return recorded[key];
  };
  RecordedJob out;
  out.image = image.string();
  const auto& mode_name = field("mode");
  if (!mode_name.is_string()) throw Error(image.string() + "'s vsp chunk has a bad \"mode\"");
  out.mode = &find_mode(mode_name.get<std::string>(), image.string() + ": ");
  const auto& given = field("job");
  const auto& resolved = field("given_as_resolved");
  if (!given.is_object() || !resolved.is_array())
    throw Error(image.string() + "'s vsp chunk has a bad \"job\"; run its command again");
  // Only the mode's own fields: a jobs file's job also names its model and output.
  out.job = nlohmann::json::object();
  for (const auto& option : out.mode->options) {
    if (given.contains(option.key)) out.job[option.key] = given[option.key];
  }
  for (const auto& key : resolved) {
    if (!key.is_string() || !recorded.contains(key.get<std::string>()))
      throw Error(image.string() + "'s vsp chunk names a field it lacks in \"given_as_resolved\"");
    for (const auto& option : out.mode->options)
      if (option.key == key.get<std::string>()) out.job[option.key] = recorded[option.key];
  }
  const auto text_or_empty = [&](const char* key) {
    return recorded.contains(key) && recorded[key].is_string() ? recorded[key].get<std::string>() : std::string();
  };
  out.model_hash = text_or_empty("model_hash");
  out.model = text_or_empty("model");
  return out;
}

std::vector<std::string> rerun_command_line(const std::vector<std::string>& args, RecordedJob& recorded) {
  if (args.size() < 3 || args[1] != "rerun" || args[2].empty() || args[2][0] == '-') return args;
  recorded = read_recorded_job(args[2]);
  std::vector<std::string> line{args[0], recorded.mode->name};
  line.insert(line.end(), args.begin() + 3, args.end());
  return line;
}

}  // namespace vsp::app
