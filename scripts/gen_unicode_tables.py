"""Generates src/text/unicode_tables.inc, the Unicode data of the C++ CLIP tokenizer (no ICU):
letter / number / white-space classes, the lower-case mapping of Rust's char::to_lowercase, and the
NFC data (canonical decompositions, which of them compose, combining classes).

    .venv/bin/python scripts/gen_unicode_tables.py

The data comes from Python's unicodedata (Unicode 14.0 in Python 3.11). transformers' CLIPTokenizer
runs the Rust `tokenizers` library, whose parts were built against other Unicode versions (regex
classes and lower-casing newer, NFC older), so every code point is also put to the installed
`tokenizers`, and where it disagrees its answer is taken: the tables match the reference, not a
Unicode version. The adjustments are printed."""
import os
import sys
import unicodedata

from tokenizers import Regex, normalizers, pre_tokenizers

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "text",
                   "unicode_tables.inc")
CODE_POINTS = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
# Unicode's White_Space property (PropList.txt), what the regex \s of `tokenizers` matches.
WHITE_SPACE = {*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
               0x202F, 0x205F, 0x3000}
LETTER, NUMBER, SPACE = "kLetter", "kNumber", "kSpace"
# A mark of combining class 1 that no character composes with: probes reordering.
PROBE_MARK = "\u0334"


def matches(pattern):
    split = pre_tokenizers.Split(Regex(pattern), behavior="removed", invert=True)
    return lambda ch: bool(split.pre_tokenize_str(ch))


def reconcile(name, ours, reference):
    """ours/reference: code point -> value. Returns the reference's values, reporting the changes."""
    changed = [c for c in CODE_POINTS if ours(c) != reference(c)]
    print(f"{name}: {len(changed)} code points taken from tokenizers "
          f"({', '.join(f'U+{c:04X}' for c in changed[:6])}{' ...' if len(changed) > 6 else ''})")
    return {c: reference(c) for c in CODE_POINTS}


def char_classes():
    is_letter, is_number, is_space = matches(r"\p{L}"), matches(r"\p{N}"), matches(r"\s")

    def ours(c):
        category = unicodedata.category(chr(c))
        return (SPACE if c in WHITE_SPACE else LETTER if category[0] == "L"
                else NUMBER if category[0] == "N" else None)

    def reference(c):
        ch = chr(c)
        return SPACE if is_space(ch) else LETTER if is_letter(ch) else NUMBER if is_number(ch) else None

    return reconcile("letter/number/space classes", ours, reference)


def lowercase():
    rust_lower = normalizers.Lowercase()
    # One character at a time: char::to_lowercase has no final-sigma context, nor has this.
    return reconcile("lower-case mapping", lambda c: chr(c).lower(),
                     lambda c: rust_lower.normalize_str(chr(c)))


def nfc_data():
    """(decompositions, combining classes): cp -> (first, second or 0, composes); cp -> class."""
    rust_nfc = normalizers.NFC()
    decompositions = {}
    for c in CODE_POINTS:
        fields = unicodedata.decomposition(chr(c)).split()
        if fields and not fields[0].startswith("<"):
            parts = [int(f, 16) for f in fields]
            # A primary composite comes back from NFC; singletons and exclusions do not.
            composes = len(parts) == 2 and unicodedata.normalize("NFC", chr(c)) == chr(c)
            decompositions[c] = (parts[0], parts[1] if len(parts) == 2 else 0, composes)
    unknown = [c for c, (a, b, composes) in decompositions.items()
               if composes and rust_nfc.normalize_str(chr(a) + chr(b)) != chr(c)]
    print(f"decompositions: {len(unknown)} unknown to tokenizers' NFC, dropped "
          f"({', '.join(f'U+{c:04X}' for c in unknown)})")
    for c in unknown:
        del decompositions[c]

    def reorders(c):
        probe = chr(c) + PROBE_MARK
        return rust_nfc.normalize_str(probe) != unicodedata.normalize("NFC", probe)

    classes = reconcile("combining classes", lambda c: unicodedata.combining(chr(c)),
                        lambda c: 0 if reorders(c) else unicodedata.combining(chr(c)))
    singles = [c for c in CODE_POINTS if rust_nfc.normalize_str(chr(c)) != unicodedata.normalize("NFC", chr(c))]
    if singles:
        sys.exit(f"NFC of single code points differs from tokenizers: {singles[:10]}")
    return decompositions, classes


def ranges(values):
    """Runs of consecutive code points with the same non-empty value: [(first, last, value)]."""
    runs = []
    for c in CODE_POINTS:
        value = values[c]
        if not value:
            continue
        if runs and runs[-1][1] == c - 1 and runs[-1][2] == value:
            runs[-1][1] = c
        else:
            runs.append([c, c, value])
    return runs


def lowercase_runs(lower):
    """Single-code-point mappings as (first, last, delta, stride) runs; the rest as strings."""
    simple = [(c, ord(lower[c]) - c) for c in CODE_POINTS if lower[c] != chr(c) and len(lower[c]) == 1]
    special = {c: lower[c] for c in CODE_POINTS if len(lower[c]) > 1}
    runs = []
    for c, delta in simple:
        if runs:
            first, last, run_delta, stride = runs[-1]
            step = c - last
            if run_delta == delta and (step == stride or (first == last and step in (1, 2))):
                runs[-1] = [first, c, delta, step]
                continue
        runs.append([c, c, delta, 1])
    return runs, special


def rows(items, per_line):
    return "\n".join("    " + " ".join(items[i:i + per_line]) for i in range(0, len(items), per_line))


def main():
    classes = char_classes()
    lower = lowercase()
    decompositions, combining = nfc_data()
    case_runs, special = lowercase_runs(lower)
    class_runs = ranges(classes)
    combining_runs = ranges(combining)

    out = [f"// GENERATED by scripts/gen_unicode_tables.py from Python {sys.version.split()[0]}'s unicodedata "
           f"(Unicode {unicodedata.unidata_version}),",
           "// reconciled with the installed `tokenizers`. Do not edit: re-run the script.",
           "",
           "// Letter (\\p{L}), number (\\p{N}) and white-space (\\s) runs, sorted; other code points are kOther.",
           f"constexpr ClassRange kClassRanges[] = {{",
           rows([f"{{0x{a:X}, 0x{b:X}, CharClass::{v}}}," for a, b, v in class_runs], 3),
           "};",
           "",
           "// Lower-case runs: first, first + stride, ... last map to code point + delta.",
           "constexpr CaseRun kLowercaseRuns[] = {",
           rows([f"{{0x{a:X}, 0x{b:X}, {d}, {s}}}," for a, b, d, s in case_runs], 4),
           "};",
           "",
           "// Lower-case mappings to more than one code point.",
           "constexpr SpecialLowercase kSpecialLowercase[] = {",
           rows([f"{{0x{c:X}, {{{', '.join(f'0x{ord(x):X}' for x in s)}}}}}," for c, s in special.items()], 2),
           "};",
           "",
           "// Canonical combining classes (non-zero runs).",
           "constexpr CombiningRange kCombiningRanges[] = {",
           rows([f"{{0x{a:X}, 0x{b:X}, {v}}}," for a, b, v in combining_runs], 4),
           "};",
           "",
           "// One level of canonical decomposition, sorted by code point (Hangul is algorithmic):",
           "// code point, first, second (0 for a singleton), whether NFC composes the pair back.",
           "constexpr Decomposition kDecompositions[] = {",
           rows([f"{{0x{c:X}, 0x{a:X}, 0x{b:X}, {'true' if k else 'false'}}},"
                 for c, (a, b, k) in sorted(decompositions.items())], 3),
           "};",
           ""]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    print(f"wrote {OUT}: {len(class_runs)} class runs, {len(case_runs)} lower-case runs, "
          f"{len(special)} special lower-case, {len(combining_runs)} combining runs, "
          f"{len(decompositions)} decompositions")


if __name__ == "__main__":
    main()
