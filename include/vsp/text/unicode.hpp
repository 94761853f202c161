#pragma once
#include <string>
#include <string_view>

// The little Unicode the CLIP tokenizer needs, without ICU. The tables come from
// scripts/gen_unicode_tables.py and follow what the Rust `tokenizers` library (transformers'
// CLIPTokenizer backend) does, code point for code point.
namespace vsp::text::unicode {

// \p{L}, \p{N} and \s of the tokenizers' regex engine; everything else is kOther.
enum class CharClass : unsigned char { kOther, kLetter, kNumber, kSpace };

// Invalid UTF-8 never throws: each maximal invalid subpart becomes U+FFFD, exactly as Python's
// bytes.decode("utf-8", errors="replace") does.
std::u32string decode_utf8(std::string_view bytes);
void append_utf8(std::string& out, char32_t code_point);

CharClass char_class(char32_t code_point);
// Rust's char::to_lowercase, one code point at a time (full mapping, no final-sigma context).
void append_lowercase(std::u32string& out, char32_t code_point);
// Canonical composition (NFC).
std::u32string nfc(const std::u32string& text);

}  // namespace vsp::text::unicode
