#include "vsp/text/unicode.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vsp::text::unicode {
namespace {

struct ClassRange {
  char32_t first, last;
  CharClass cls;
};
struct CaseRun {
  char32_t first, last;
  int32_t delta;
  uint8_t stride;
};
struct SpecialLowercase {
  char32_t code_point;
  char32_t lower[3];
};
struct CombiningRange {
  char32_t first, last;
  uint8_t combining_class;
};
struct Decomposition {
  char32_t code_point, first, second;
  bool composes;
};

#include "unicode_tables.inc"

constexpr char32_t kReplacement = 0xFFFD;
// Below U+0300 nothing combines, so text made only of such code points is already NFC.
constexpr char32_t kFirstCombining = 0x300;

// Hangul syllables compose and decompose algorithmically (Unicode chapter 3.12).
constexpr char32_t kHangulBase = 0xAC00, kLeadBase = 0x1100, kVowelBase = 0x1161, kTrailBase = 0x11A7;
constexpr char32_t kLeadCount = 19, kVowelCount = 21, kTrailCount = 28;
constexpr char32_t kSyllableCount = kLeadCount * kVowelCount * kTrailCount;

// The range of a sorted, non-overlapping table that contains code_point, or nullptr.
template <typename Range, size_t N>
const Range* find_range(const Range (&table)[N], char32_t code_point) {
  auto after = std::upper_bound(std::begin(table), std::end(table), code_point,
                                [](char32_t cp, const Range& r) { return cp < r.first; });
  if (after == std::begin(table)) return nullptr;
  const Range* range = &*std::prev(after);
  return code_point <= range->last ? range : nullptr;
}

uint8_t combining_class(char32_t code_point) {
  if (code_point < kFirstCombining) return 0;
  const CombiningRange* range = find_range(kCombiningRanges, code_point);
  return range ? range->combining_class : 0;
}

const Decomposition* find_decomposition(char32_t code_point) {
  auto it = std::lower_bound(std::begin(kDecompositions), std::end(kDecompositions), code_point,
                             [](const Decomposition& d, char32_t cp) { return d.code_point < cp; });
  return it != std::end(kDecompositions) && it->code_point == code_point ? &*it : nullptr;
}

void decompose(char32_t code_point, std::u32string& out) {
  if (code_point >= kHangulBase && code_point < kHangulBase + kSyllableCount) {
    char32_t index = code_point - kHangulBase;
    out += kLeadBase + index / (kVowelCount * kTrailCount);
    out += kVowelBase + index % (kVowelCount * kTrailCount) / kTrailCount;
    if (index % kTrailCount != 0) out += kTrailBase + index % kTrailCount;
    return;
  }
  const Decomposition* d = find_decomposition(code_point);
  if (!d) {
    out += code_point;
    return;
  }
  decompose(d->first, out);
  if (d->second != 0) decompose(d->second, out);
}

uint64_t pair_key(char32_t first, char32_t second) { return (static_cast<uint64_t>(first) << 32) | second; }

// The primary composite of (first, second), or 0 when the pair does not compose.
char32_t compose(char32_t first, char32_t second) {
  if (first >= kLeadBase && first < kLeadBase + kLeadCount && second >= kVowelBase &&
      second < kVowelBase + kVowelCount) {
    return kHangulBase + ((first - kLeadBase) * kVowelCount + (second - kVowelBase)) * kTrailCount;
  }
  if (first >= kHangulBase && first < kHangulBase + kSyllableCount && (first - kHangulBase) % kTrailCount == 0 &&
      second > kTrailBase && second < kTrailBase + kTrailCount) {
    return first + (second - kTrailBase);
  }
  static const std::unordered_map<uint64_t, char32_t> compositions = [] {
    std::unordered_map<uint64_t, char32_t> map;
    for (const Decomposition& d : kDecompositions) {
      if (d.composes) map.emplace(pair_key(d.first, d.second), d.code_point);
    }
    return map;
  }();
  auto it = compositions.find(pair_key(first, second));
  return it == compositions.end() ? 0 : it->second;
}

// Canonical ordering: stable sort of every run of non-starters by combining class.
void reorder(std::u32string& text) {
  std::vector<uint8_t> classes(text.size());
  for (size_t i = 0; i < text.size(); ++i) classes[i] = combining_class(text[i]);
  for (size_t i = 1; i < text.size(); ++i) {
    for (size_t j = i; j > 0 && classes[j] != 0 && classes[j - 1] > classes[j]; --j) {
      std::swap(text[j], text[j - 1]);
      std::swap(classes[j], classes[j - 1]);
    }
  }
}

// Canonical composition, as in UAX #15's sample code: a character joins the last starter unless
// a character in between has class 0 or a class not lower than its own.
void recompose(std::u32string& text) {
  if (text.empty()) return;
  size_t starter = 0, kept = 1;
  int last_class = combining_class(text[0]) == 0 ? 0 : 256;
  for (size_t i = 1; i < text.size(); ++i) {
    char32_t ch = text[i];
    int ch_class = combining_class(ch);
    char32_t composite = compose(text[starter], ch);
    if (composite != 0 && (last_class < ch_class || last_class == 0)) {
      text[starter] = composite;
      continue;
    }
    if (ch_class == 0) starter = kept;
    last_class = ch_class;
    text[kept++] = ch;
  }
  text.resize(kept);
}

}  // namespace

std::u32string decode_utf8(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    auto lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      out += lead;
      ++i;
      continue;
    }
    // Continuation bytes and the second byte's narrower range, which rules out overlong forms,
    // surrogates and code points above U+10FFFF.
    int needed = 0;
    char32_t code_point = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      needed = 1, code_point = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      needed = 2, code_point = lead & 0x0F;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      needed = 3, code_point = lead & 0x07;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    size_t next = i + 1;
    int taken = 0;
    while (taken < needed && next < bytes.size()) {
      auto byte = static_cast<unsigned char>(bytes[next]);
      if (byte < low || byte > high) break;
      code_point = (code_point << 6) | (byte & 0x3F);
      low = 0x80, high = 0xBF;
      ++next, ++taken;
    }
    // A valid prefix that is cut short is one replacement, as in Python.
    out += (needed != 0 && taken == needed) ? code_point : kReplacement;
    i = next;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

CharClass char_class(char32_t code_point) {
  const ClassRange* range = find_range(kClassRanges, code_point);
  return range ? range->cls : CharClass::kOther;
}

void append_lowercase(std::u32string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out += (code_point >= 'A' && code_point <= 'Z') ? code_point + 32 : code_point;
    return;
  }
  if (const CaseRun* run = find_range(kLowercaseRuns, code_point)) {
    if ((code_point - run->first) % run->stride == 0) {
      out += static_cast<char32_t>(static_cast<int32_t>(code_point) + run->delta);
      return;
    }
  }
  for (const SpecialLowercase& special : kSpecialLowercase) {
    if (special.code_point != code_point) continue;
    for (char32_t lower : special.lower) {
      if (lower != 0) out += lower;
    }
    return;
  }
  out += code_point;
}

std::u32string nfc(const std::u32string& text) {
  if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < kFirstCombining; })) {
    return text;
  }
  std::u32string result;
  result.reserve(text.size());
  for (char32_t code_point : text) decompose(code_point, result);
  reorder(result);
  recompose(result);
  return result;
}

}  // namespace vsp::text::unicode
