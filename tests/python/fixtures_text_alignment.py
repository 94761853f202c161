"""Token-alignment fixtures for prompt-to-prompt (the C++ unit test of vsp::text's word positions,
replace mapper and refine mapping), computed by p2p_alignment.py, which follows the original code
(google/prompt-to-prompt: seq_aligner.py, ptp_utils.get_word_inds) exactly.

    .venv/bin/python tests/python/fixtures_text_alignment.py OUTDIR

reads the tokenizers that fixtures_text.py wrote (OUTDIR/text/tokenizer and tokenizer_2; this
file's name sorts after it, and scripts/test.sh runs the fixtures in glob order) and writes
OUTDIR/text/alignment.json:
  {"max_length": 77, "cases": [{"source", "target", "tokenizers": {"tokenizer": CASE, "tokenizer_2": CASE}}]}
  CASE: source_ids / target_ids   full encode with BOS and EOS, no padding, no truncation;
        source_words / target_words  the token positions of each word (split on " "), BOS = 0;
        replace   null when the word counts differ, else the non-zero entries [i, j, value] of the
                  77x77 replace mapper (P_edit = P_source @ M), row-major, values as float32;
        refine    {"mapper": 77 ints (-1: a new token), "alphas": 77 floats}, null when either
                  prompt has more than 77 tokens.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from p2p_alignment import MAX_LEN, refinement_mapper, replacement_mapper, word_inds  # noqa: E402

LONG = " ".join(["a photo of a cat"] * 18)  # 90 tokens with BOS and EOS

# (source, target): CLIP splits hippopotamus, platypus, tardigrade and rhinoceros into 3 tokens,
# pangolin, armadillo, okapi, iguana and photorealistic into 2; the other animals are 1.
PAIRS = [
    # replace: same word count, single-token words
    ("a cat riding a bicycle", "a dog riding a bicycle"),
    ("a cat riding a bicycle", "a dog riding a motorcycle"),
    ("a red car in the city", "a blue car in the forest"),
    ("a cat riding a bicycle", "a cat riding a bicycle"),  # identical
    ("a cat", "a cat"),
    # replace: a count-changing word, then more words (the original's tail quirk)
    ("a cat riding a bicycle", "a hippopotamus riding a bicycle"),
    ("a hippopotamus riding a bicycle", "a cat riding a bicycle"),
    ("a pangolin sitting on a rock", "a platypus sitting on a rock"),
    ("a tardigrade next to a cat", "a dog next to a rhinoceros"),
    ("a cat next to a dog", "a armadillo next to a okapi"),
    ("a photorealistic cat", "a watercolor cat"),
    ("a cat", "a iguana"),  # count change at the last word
    # replace: punctuation, case, digits, an accented word
    ("a cat, sitting.", "a dog, sitting."),
    ("a cat!", "a dog!"),
    ("wow!! a cat", "wow!! a dog"),
    ("A Cat riding a Bicycle", "a cat riding a bicycle"),  # only case differs: every word "changed"
    ("3 cats on 2 chairs", "4 dogs on 20 chairs"),
    ("a café at night", "a bar at night"),
    ("a cat in a café", "a hippopotamus in a café"),
    # refine: words added or removed at the start, middle and end
    ("a cat riding a bicycle", "a fluffy cat riding a red bicycle"),
    ("a cat riding a bicycle", "photo of a cat riding a bicycle"),
    ("a cat riding a bicycle", "a cat riding a bicycle at sunset, oil painting"),
    ("a fluffy cat riding a red bicycle", "a cat riding a bicycle"),
    ("a cat riding a bicycle in the park", "a cat riding"),
    ("a cat", "a photorealistic hippopotamus and a cat"),
    ("a cat, sitting.", "a cat, sitting quietly."),
    ("wow!! a cat", "wow!! a cat!"),
    ("a cat", "a dog"),  # equal counts also have a refinement
    ("a café", "a small café, Paris"),
    ("", "a cat"),
    # longer than 77 tokens: replace before the cut, refine null
    (LONG, LONG.replace("cat", "dog", 1)),
    (LONG, LONG + " at night"),
    ("a cat", LONG),
]


def case(tokenizer, source, target):
    entry = {"source_ids": tokenizer.encode(source), "target_ids": tokenizer.encode(target)}
    for side, text in (("source", source), ("target", target)):
        entry[f"{side}_words"] = [word_inds(text, i, tokenizer) for i in range(len(text.split(" ")))]
    entry["replace"] = None
    if len(source.split(" ")) == len(target.split(" ")):
        mapper = replacement_mapper(source, target, tokenizer)
        entry["replace"] = [[i, j, float(mapper[i, j])] for i, j in mapper.nonzero().tolist()]
    entry["refine"] = None
    if max(len(entry["source_ids"]), len(entry["target_ids"])) <= MAX_LEN:
        mapper, alphas = refinement_mapper(source, target, tokenizer)
        entry["refine"] = {"mapper": mapper.tolist(), "alphas": alphas.tolist()}
    return entry


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fixtures_text_alignment.py OUTDIR")
    from transformers import CLIPTokenizer
    from transformers.utils import logging

    logging.set_verbosity_error()  # the long prompts are long on purpose
    out = os.path.join(sys.argv[1], "text")
    names = ["tokenizer", "tokenizer_2"]
    tokenizers = {name: CLIPTokenizer.from_pretrained(os.path.join(out, name)) for name in names}
    cases = [{"source": source, "target": target,
              "tokenizers": {name: case(tokenizers[name], source, target) for name in names}}
             for source, target in PAIRS]
    with open(os.path.join(out, "alignment.json"), "w", encoding="utf-8") as f:
        json.dump({"max_length": MAX_LEN, "cases": cases}, f, separators=(",", ":"), ensure_ascii=False)
    print(f"[fixtures_text_alignment] {len(cases)} prompt pairs -> {out}/alignment.json")


if __name__ == "__main__":
    main()
