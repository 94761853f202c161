// The edit and transfer commands' option values with a syntax of their own, and the output path
// rule every output flag and jobs field goes through. Input: lines; the first is a --cross-replace
// value, the others --reweight entries, and every line is also an output path (--save-null-text,
// --save-attention, "save_null_text" ...) claimed in one run, and a message put in jobs terms.
#include <cstdint>
#include <string>
#include <vector>

#include "vsp/config/edit_options.hpp"
#include "vsp/config/job_schema.hpp"
#include "vsp/config/modes.hpp"
#include "vsp/config/output_files.hpp"
#include "vsp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> lines(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n')
      lines.emplace_back();
    else
      lines.back() += static_cast<char>(data[i]);
  }
  try {
    for (const auto& [word, fraction] : vsp::app::parse_cross_replace(lines[0]))
      if (!(fraction >= 0 && fraction <= 1) || word.empty()) __builtin_trap();
  } catch (const vsp::Error&) {
  }
  try {
    for (const auto& [word, weight] : vsp::app::parse_reweights({lines.begin() + 1, lines.end()}))
      if (!(weight >= -100 && weight <= 100)) __builtin_trap();
  } catch (const vsp::Error&) {
  }
  vsp::app::OutputClaims claims("give each output its own name");
  for (const auto& line : lines) {
    try {
      const auto path = vsp::app::inside_output_folder(line, "--save-null-text");
      // What the rule promises: a relative path that stays inside the folder.
      if (path.is_absolute() || path.empty() || *path.begin() == "..") __builtin_trap();
      claims.claim(path, "--save-null-text");
    } catch (const vsp::Error&) {
    }
    (void)vsp::app::in_jobs_terms(line, vsp::app::edit_schema().options);
  }
  return 0;
}
