"""Tokenizer fixtures: transformers' CLIPTokenizer ids for the C++ tokenizer to match.

    .venv/bin/python tests/python/fixtures_text.py OUTDIR

writes OUTDIR/text/tokenizer and OUTDIR/text/tokenizer_2 (SDXL's two CLIP tokenizers, built from the
real CLIP vocabulary) and OUTDIR/text/expected.json:
  prompts: every prompt of tests/data/prompts.txt plus generated ones, as hex UTF-8 bytes (some
           invalid on purpose, read with errors="replace"), with both tokenizers' input_ids
           (padding="max_length", max_length=77, truncation=True);
  sweep:   probe strings over (nearly) every code point, composition pairs and Hangul, with the
           first tokenizer's ids without special tokens, checking normalisation and the regex classes.
"""
import json
import os
import random
import re
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from clip_vocab import find_clip_vocab, write_clip_tokenizers  # noqa: E402

MAX_LENGTH = 77
PROMPTS_FILE = os.path.join(ROOT, "tests", "data", "prompts.txt")
ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))")
SIMPLE_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}


def unescape(line):
    """A prompts.txt line -> bytes (\\xHH is a raw byte, the rest is UTF-8)."""
    out, last = bytearray(), 0
    for m in ESCAPE.finditer(line):
        out += line[last:m.start()].encode("utf-8")
        byte, short, long, simple = m.groups()
        if byte:
            out.append(int(byte, 16))
        elif short or long:
            out += chr(int(short or long, 16)).encode("utf-8", "surrogatepass")
        else:
            out += SIMPLE_ESCAPES[simple].encode("utf-8")
        last = m.end()
    return bytes(out + line[last:].encode("utf-8"))


def file_prompts():
    with open(PROMPTS_FILE, encoding="utf-8") as f:
        lines = f.read().split("\n")
    return [unescape(line) for line in lines if line and not line.startswith("#")]


WORDS = ("a photo of the cat dog astronaut horse riding castle forest mountain river city night "
         "portrait painting oil canvas style detailed lighting cinematic render sunset golden hour "
         "beautiful ancient futuristic robot dragon wizard knight ocean waves storm clouds neon "
         "vibrant colorful dark moody soft pastel sharp focus masterpiece trending artstation").split()
SNIPPETS = ["it's", "don't", "we're", "I'VE", "you'll", "she'd", "I'm", "'s", "café", "Straße", "İ",
            "naïve", "e\u0301", "A\u030a", "日本", "猫", "한국", "\u1100\u1161", "Москва", "Ελλάδα", "ΣΟΦΙΑ",
            "مرحبا", "🐱", "🚀🌕", "👨‍👩‍👧", "1️⃣", "ﬁ", "Ⅻ", "½", "x²", "１２３", "!!", "?!", "...", "—", "“q”",
            "<|endoftext|>", "<|startoftext|>", "<|ENDOFTEXT|>", "\t", "\n", "\u00a0", "  ", "\u3000",
            "\u200b", "#tag", "@user", "3.14", "2024", "100%", "$5", "a_b", "x-y", "(1)", "[2]", "{3}"]
UNICODE_POOL = ("àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿāăąćĉċčďđēĕėęěĝğġģĥħĩīĭįıĳĵķĸĺļľŀłńņňŉŋōŏőœŕŗřśŝşšţťŧ"
                "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩαβγδεζηθικλμνξοπρςστυφχψωАБВГДЕЖЗИЙКЛМНОПабвгдежзийклмнопЁё"
                "あいうえおかきくけこアイウエオ漢字中文字符가나다라마바사\u0300\u0301\u0302\u0303\u0308\u0323\u0327"
                "٠١٢٣٤٥٦٧٨٩०१२३४५६७८९①②③🎨🖌️🌈🔥💧🌙☀️⭐❄️…·•←→€£¥©®™")


def generated_prompts(count=320, seed=1234):
    rng = random.Random(seed)
    prompts = []
    for i in range(count):
        kind = i % 4
        if kind == 0:  # plain prompts, sometimes far longer than 77 tokens
            n = rng.choice([3, 8, 15, 40, 90, 150])
            text = " ".join(rng.choice(WORDS) for _ in range(n))
        elif kind == 1:  # words mixed with contractions, punctuation, digits, specials, white space
            parts = [rng.choice(WORDS + SNIPPETS) for _ in range(rng.randint(2, 30))]
            text = "".join(p + rng.choice([" ", " ", ", ", "", "  ", "\t", ". ", "!"]) for p in parts)
        elif kind == 2:  # random unicode soup
            text = "".join(rng.choice(UNICODE_POOL + " ,.!'") for _ in range(rng.randint(1, 120)))
        else:  # case and spacing variations of a prompt
            words = [rng.choice(WORDS + SNIPPETS) for _ in range(rng.randint(1, 25))]
            words = [w.upper() if rng.random() < 0.3 else w.title() if rng.random() < 0.3 else w for w in words]
            text = rng.choice(["", " ", "\n"]) + " ".join(words) + rng.choice(["", " ", "  \t", "!!"])
        prompts.append(text.encode("utf-8"))
    prompts.append(b"")
    prompts.append(" ".join(["a"] * 200).encode("utf-8"))
    prompts.append(("x" * 2000).encode("utf-8"))
    prompts.append(("!" * 300).encode("utf-8"))
    return prompts


def sweep_code_points():
    """Nearly every code point: all of the first four planes and plane 14 except the insides of big
    uniform blocks (CJK ideographs, Hangul syllables, private use), which are sampled."""
    sampled = [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF),
               (0x17000, 0x18AFF), (0x20000, 0x3FFFF)]
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        if c >= 0x40000 and not 0xE0000 <= c <= 0xE01FF:
            if c % 4093 == 0:
                yield c
            continue
        if any(lo <= c <= hi for lo, hi in sampled) and c % 61 != 0:
            continue
        yield c


def sweep_strings():
    # Each probe: c inside letters (letter class), inside punctuation (other class), before a
    # class-1 mark (reordering), and upper-cased/lower-cased context.
    probes = [f"a{chr(c)}a?{chr(c)}?{chr(c)}\u0334 Q{chr(c)}" for c in sweep_code_points()]
    for c in range(0x110000):
        fields = unicodedata.decomposition(chr(c)).split() if not 0xD800 <= c <= 0xDFFF else []
        if len(fields) == 2 and not fields[0].startswith("<"):
            a, b = (chr(int(f, 16)) for f in fields)
            # composition, composition across a lower-class mark, blocked, and decomposition.
            probes.append(f"{a}{b} {a}\u0334{b} {a}\u0316{b}\u0301 {a}{b}{b} {a}\u0301{b} {chr(c)}\u0323")
    rng = random.Random(7)
    for _ in range(400):
        lead, vowel, trail = (chr(0x1100 + rng.randrange(19)), chr(0x1161 + rng.randrange(21)),
                              chr(0x11A7 + rng.randrange(28)))
        syllable = chr(0xAC00 + rng.randrange(11172))
        probes.append(f"{lead}{vowel}{trail} {lead}{vowel} {syllable}{trail} {syllable}{vowel} {lead}{trail}")
    return [" ".join(probes[i:i + 8]) for i in range(0, len(probes), 8)]  # short: readable failures


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fixtures_text.py OUTDIR")
    from transformers import CLIPTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()  # the sweep strings are long on purpose

    out = os.path.join(sys.argv[1], "text")
    os.makedirs(out, exist_ok=True)
    folders = write_clip_tokenizers(find_clip_vocab(), out)
    tokenizers = [CLIPTokenizer.from_pretrained(folder) for folder in folders]

    prompts = file_prompts() + generated_prompts()
    texts = [p.decode("utf-8", errors="replace") for p in prompts]
    ids = [t(texts, padding="max_length", max_length=MAX_LENGTH, truncation=True).input_ids for t in tokenizers]
    sweep = sweep_strings()
    sweep_ids = tokenizers[0](sweep, add_special_tokens=False).input_ids

    expected = {
        "max_length": MAX_LENGTH,
        "tokenizers": [{"folder": os.path.basename(f), "pad_id": t.pad_token_id} for f, t in zip(folders, tokenizers)],
        "prompts": [{"hex": p.hex(), "ids": [ids[0][i], ids[1][i]]} for i, p in enumerate(prompts)],
        "sweep": [{"hex": s.encode("utf-8").hex(), "ids": i} for s, i in zip(sweep, sweep_ids)],
    }
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, separators=(",", ":"))
    print(f"[fixtures_text] {len(prompts)} prompts, {len(sweep)} sweep strings -> {out}")


if __name__ == "__main__":
    main()
