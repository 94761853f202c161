#pragma once
#include <ostream>
#include <string_view>

namespace vsp::attention {

// What a row of a run is for, declared by the pipeline (pipeline::BranchLayout::roles) and read by
// the controllers from the step context. One enum for every method, so a controller cannot
// misspell a role another pipeline declares.
enum class RowRole {
  image,      // a plain row: generate, and every row when a layout declares none
  reference,  // visual style prompting: the style reference, run first
  target,     // ... the rows that take its keys and values
  content,    // style injection: an inverted content picture
  style,      // ... an inverted style picture
  stylised,   // ... a (content, style) pair's output row
  source,     // prompt-to-prompt: the source prompt's row, first
  edit,       // ... an edited prompt's row
};

constexpr std::string_view role_name(RowRole role) {
  switch (role) {
    case RowRole::image:
      return "image";
    case RowRole::reference:
      return "reference";
    case RowRole::target:
      return "target";
    case RowRole::content:
      return "content";
    case RowRole::style:
      return "style";
    case RowRole::stylised:
      return "stylised";
    case RowRole::source:
      return "source";
    case RowRole::edit:
      return "edit";
  }
  return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, RowRole role) { return out << role_name(role); }

}  // namespace vsp::attention
