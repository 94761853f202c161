"""The CLIP BPE vocabulary (open-clip's bpe_simple_vocab_16e6.txt.gz) as transformers tokenizer
folders shaped like SDXL's: `tokenizer` pads with "<|endoftext|>", `tokenizer_2` with "!" (id 0).

    from clip_vocab import find_clip_vocab, write_clip_tokenizers
    write_clip_tokenizers(find_clip_vocab(), out_dir)  # -> out_dir/tokenizer, out_dir/tokenizer_2

Each folder holds transformers' own files plus vocab.json and merges.txt, which the C++ tokenizer
reads (transformers 5 saves only tokenizer.json)."""
import gzip
import importlib.util
import json
import os
import sys

VOCAB_NAME = "bpe_simple_vocab_16e6.txt.gz"
# open_clip keeps the first 49152 - 256 - 2 merges of the file (line 0 is a header).
MERGE_COUNT = 49152 - 256 - 2
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MODEL_MAX_LENGTH = 77


def find_clip_vocab():
    """The path of bpe_simple_vocab_16e6.txt.gz: the venv copy that scripts/setup.sh fetches, else
    the one inside an installed open_clip package."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [os.path.join(sys.prefix, "share", "vsp", VOCAB_NAME),
                  os.path.join(repo, ".venv", "share", "vsp", VOCAB_NAME)]
    spec = importlib.util.find_spec("open_clip")
    if spec is not None and spec.submodule_search_locations:
        candidates += [os.path.join(folder, VOCAB_NAME) for folder in spec.submodule_search_locations]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"the CLIP vocabulary {VOCAB_NAME} was not found (looked in: {', '.join(candidates)}); "
        "run scripts/setup.sh, which extracts it from the open-clip-torch wheel")


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map, in CLIP's vocabulary order."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def read_clip_vocab(vocab_gz_path):
    """(vocab, merges) exactly as open_clip's SimpleTokenizer builds them: 256 byte characters, the
    same with "</w>", one token per merge, then <|startoftext|> = 49406 and <|endoftext|> = 49407."""
    lines = gzip.open(vocab_gz_path).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1:MERGE_COUNT + 1]]
    byte_chars = list(bytes_to_unicode().values())
    tokens = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}, merges


def write_clip_tokenizers(vocab_gz_path, out_dir):
    """Writes out_dir/tokenizer and out_dir/tokenizer_2; returns their paths."""
    from transformers import CLIPTokenizer

    vocab, merges = read_clip_vocab(vocab_gz_path)
    folders = []
    for name, pad_token in (("tokenizer", EOS), ("tokenizer_2", "!")):
        folder = os.path.join(out_dir, name)
        tokenizer = CLIPTokenizer(vocab=dict(vocab), merges=list(merges), pad_token=pad_token,
                                  model_max_length=MODEL_MAX_LENGTH)
        tokenizer.save_pretrained(folder)
        with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            f.writelines(f"{left} {right}\n" for left, right in merges)
        folders.append(folder)
    return folders
