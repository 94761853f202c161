#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace vsp {

// Candidates ordered by edit distance to `word`, the close ones only (for "did you mean").
std::vector<std::string> closest(const std::string& word, const std::vector<std::string>& candidates, size_t limit = 3);

// "; did you mean "seed"?" with the candidate that other tools' name `word` means (A1111's
// "cfg_scale": "cfg"), else the closest, in `quote`s; "" when none is close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates,
                         const std::string& quote = "\"");

// "a, b, c": the items of a list for a message.
std::string join(const std::vector<std::string>& items, const std::string& separator = ", ");

}  // namespace vsp
