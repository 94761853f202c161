"""Prompt-to-prompt's token alignment, as the original code (google/prompt-to-prompt: seq_aligner.py,
ptp_utils.get_word_inds and get_time_words_attention_alpha) computes it, quirks included (see each):
the reference p2p_reference.py and the fixtures of the C++ unit test (fixtures_text_alignment.py)
use it. Torch and numpy only, with a transformers CLIPTokenizer."""
import numpy as np
import torch

MAX_LEN = 77


# ----------------------------------------------------------------------------------------------
# Token alignment (seq_aligner.py / ptp_utils.py semantics)

def word_inds(text, word_place, tokenizer):
    """Token positions (1-based: BOS is 0) of the words of `text` (split on single spaces) chosen
    by `word_place`: a word index, a list of them, or a word (every occurrence of exactly it).

    Walks the tokens of the full encode (no truncation), accumulating the length of each token's
    decoded text (stripped of '#'); a word is done when the accumulated length reaches its length.
    Positions may run past 76 for long prompts."""
    words = text.split(" ")
    if isinstance(word_place, str):
        places = {i for i, word in enumerate(words) if word == word_place}
    elif isinstance(word_place, int):
        places = {word_place}
    else:
        places = set(word_place)
    out = []
    if not places:
        return out
    pieces = [tokenizer.decode([token]).strip("#") for token in tokenizer.encode(text)][1:-1]
    length, word = 0, 0
    for i, piece in enumerate(pieces):
        length += len(piece)
        if word in places:
            out.append(i + 1)
        if length >= len(words[word]):  # IndexError when the tokens outrun the words, as the original
            word += 1
            length = 0
    return out


def replacement_mapper(x, y, tokenizer, max_len=MAX_LEN):
    """The [max_len, max_len] float32 mapper of a word-for-word replace (get_replacement_mapper_):
    P_edit = P_src @ M. Changed words' source tokens map to their target tokens, one to one when the
    counts agree, else every source token to every target token with weight 1 / (target count).
    Between changed words the walk maps i -> j (source position -> target position); after the last
    changed word the original writes mapper[j, j] (not [i, j]): when a changed word changed the
    token count, the tail is the identity, not the shifted diagonal, and when the source had more
    tokens the last columns stay zero. Kept exactly."""
    words_x, words_y = x.split(" "), y.split(" ")
    if len(words_x) != len(words_y):
        raise ValueError(f"replace needs prompts with the same number of words: {len(words_x)} and {len(words_y)}")
    changed = [i for i in range(len(words_y)) if words_x[i] != words_y[i]]
    sources = [word_inds(x, i, tokenizer) for i in changed]
    targets = [word_inds(y, i, tokenizer) for i in changed]
    mapper = np.zeros((max_len, max_len))
    i = j = k = 0
    while i < max_len and j < max_len:
        if k < len(sources) and sources[k][0] == i:
            src, tgt = sources[k], targets[k]
            if len(src) == len(tgt):
                mapper[src, tgt] = 1  # element-wise pairs
            else:
                for t in tgt:
                    mapper[src, t] = 1 / len(tgt)
            k += 1
            i += len(src)
            j += len(tgt)
        elif k < len(sources):
            mapper[i, j] = 1
            i += 1
            j += 1
        else:
            mapper[j, j] = 1  # the original's tail
            i += 1
            j += 1
    return torch.from_numpy(mapper).float()


def global_align(x, y, gap=0, match=1, mismatch=-1):
    """Needleman-Wunsch score and traceback (1 left, 2 up, 3 diagonal, 4 origin); ties prefer left,
    then up, then the diagonal, as the original's if/elif order."""
    score = np.zeros((len(x) + 1, len(y) + 1), dtype=np.int64)
    score[0, 1:] = np.arange(1, len(y) + 1) * gap
    score[1:, 0] = np.arange(1, len(x) + 1) * gap
    trace = np.zeros((len(x) + 1, len(y) + 1), dtype=np.int64)
    trace[0, 1:], trace[1:, 0], trace[0, 0] = 1, 2, 4
    for i in range(1, len(x) + 1):
        for j in range(1, len(y) + 1):
            left = score[i, j - 1] + gap
            up = score[i - 1, j] + gap
            diag = score[i - 1, j - 1] + (match if x[i - 1] == y[j - 1] else mismatch)
            best = max(left, up, diag)
            score[i, j] = best
            trace[i, j] = 1 if best == left else 2 if best == up else 3
    return score, trace


def refinement_mapper(x, y, tokenizer, max_len=MAX_LEN):
    """(mapper int64 [max_len], alphas float32 [max_len]) of a refine (get_mapper): the full token
    sequences (BOS and EOS included) aligned; target token j takes the source token mapper[j] when
    aligned (alpha 1), else keeps its own attention (alpha 0, mapper -1). Positions past the target's
    EOS map to themselves with alpha 1. The original raises when the target has more than max_len
    tokens (and gives indices past max_len when the source does)."""
    xs, ys = tokenizer.encode(x), tokenizer.encode(y)
    _, trace = global_align(xs, ys)
    pairs = []  # (target position, source position or -1), traced back from the end
    i, j = len(xs), len(ys)
    while i > 0 or j > 0:
        step = trace[i, j]
        if step == 3:
            i, j = i - 1, j - 1
            pairs.append((j, i))
        elif step == 1:
            j -= 1
            pairs.append((j, -1))
        elif step == 2:
            i -= 1
        else:
            break
    pairs.reverse()
    base = torch.tensor(pairs, dtype=torch.int64).reshape(-1, 2)
    alphas = torch.ones(max_len)
    alphas[:len(base)] = base[:, 1].ne(-1).float()
    mapper = torch.zeros(max_len, dtype=torch.int64)
    mapper[:len(base)] = base[:, 1]
    mapper[len(base):] = len(ys) + torch.arange(max_len - len(ys))
    return mapper, alphas


def time_word_alphas(prompts, steps, cross_replace, tokenizer, max_len=MAX_LEN):
    """[steps + 1, edits, max_len] (get_time_words_attention_alpha): 1 where the edit's token column
    is replaced at that step. cross_replace: a float f (the window (0, f)), a (start, end) pair, or a
    dict {"default_": bounds, word: bounds} (words looked up in each edited prompt; absent ones are
    ignored; "default_" defaults to (0, 1)). A window (a, b) covers steps int(a*(steps+1)) <= s <
    int(b*(steps+1))."""
    if not isinstance(cross_replace, dict):
        cross_replace = {"default_": cross_replace}
    cross_replace = {"default_": (0.0, 1.0), **cross_replace}
    alphas = torch.zeros(steps + 1, len(prompts) - 1, max_len)

    def update(bounds, edit, columns):
        start, end = window(bounds, steps + 1)
        alphas[:start, edit, columns] = 0
        alphas[start:end, edit, columns] = 1
        alphas[end:, edit, columns] = 0

    for e in range(len(prompts) - 1):
        update(cross_replace["default_"], e, torch.arange(max_len))
    for word, bounds in cross_replace.items():
        if word == "default_":
            continue
        for e in range(len(prompts) - 1):
            columns = word_inds(prompts[e + 1], word, tokenizer)
            if columns:
                update(bounds, e, torch.tensor(columns))
    return alphas


def window(bounds, count):
    """(int(a * count), int(b * count)) of a float b (a = 0) or a pair (a, b), in float64."""
    if isinstance(bounds, (int, float)):
        bounds = (0.0, bounds)
    return int(float(bounds[0]) * count), int(float(bounds[1]) * count)


def equalizer(text, weights, tokenizer, max_len=MAX_LEN):
    """[max_len] float32 column weights (get_equalizer with one value per word): 1 everywhere, w at
    the tokens of every occurrence of each word of `weights` ({word: w}) in `text`."""
    out = torch.ones(max_len)
    for word, weight in weights.items():
        out[word_inds(text, word, tokenizer)] = float(weight)
    return out
