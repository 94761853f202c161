"""A plain Python reading of AUTOMATIC1111's prompt syntax, written for the tests from its
modules/prompt_parser.py (parse_prompt_attention), modules/sd_hijack_clip.py (tokenize_line,
process_tokens, empty_chunk) and modules/sd_emphasis.py (EmphasisOriginal), on the diffusers
pipeline's own tokenizers and text encoders. Rows of different lengths are lengthened with the
empty prompt's embeddings, as A1111's "pad prompt/negative prompt to be same length" does."""
import re

import torch

ATTENTION = re.compile(r"\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|]|[^\\()\[\]:]+|:")
BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)
CHUNK = 75
COMMA_BACKTRACK = 20


def parse(text):
    """[[text, weight], ...]; a BREAK is ["BREAK", -1]."""
    pieces, round_open, square_open = [], [], []

    def multiply(start, by):
        for piece in pieces[start:]:
            piece[1] *= by

    for match in ATTENTION.finditer(text):
        part, weight = match.group(0), match.group(1)
        if part.startswith("\\"):
            pieces.append([part[1:], 1.0])
        elif part == "(":
            round_open.append(len(pieces))
        elif part == "[":
            square_open.append(len(pieces))
        elif weight is not None and round_open:
            multiply(round_open.pop(), float(weight))
        elif part == ")" and round_open:
            multiply(round_open.pop(), 1.1)
        elif part == "]" and square_open:
            multiply(square_open.pop(), 1 / 1.1)
        else:
            for i, between in enumerate(BREAK.split(part)):
                if i > 0:
                    pieces.append(["BREAK", -1])
                pieces.append([between, 1.0])
    for start in round_open:
        multiply(start, 1.1)
    for start in square_open:
        multiply(start, 1 / 1.1)
    if not pieces:
        pieces = [["", 1.0]]
    merged = [pieces[0]]
    for piece in pieces[1:]:
        if piece[1] == merged[-1][1]:
            merged[-1][0] += piece[0]
        else:
            merged.append(piece)
    return merged


def chunks(tokenizer, prompt):
    """[(ids, multipliers)], each 77 long, as tokenize_line and process_tokens make them."""
    bos, eos, pad = tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    comma = tokenizer.get_vocab().get(",</w>")
    done, ids, weights, last_comma = [], [], [], -1

    def close():
        nonlocal ids, weights, last_comma
        ids = [bos] + ids + [eos] * (CHUNK - len(ids)) + [eos]
        weights = [1.0] + weights + [1.0] * (CHUNK - len(weights)) + [1.0]
        end = ids.index(eos)
        ids = ids[:end + 1] + [pad] * (len(ids) - end - 1)
        done.append((ids, weights))
        ids, weights, last_comma = [], [], -1

    for text, weight in parse(prompt):
        if text == "BREAK" and weight == -1:
            close()
            continue
        for token in tokenizer(text, truncation=False, add_special_tokens=False)["input_ids"]:
            if token == comma:
                last_comma = len(ids)
            elif len(ids) == CHUNK and last_comma != -1 and len(ids) - last_comma <= COMMA_BACKTRACK:
                moved_ids, moved_weights = ids[last_comma + 1:], weights[last_comma + 1:]
                ids, weights = ids[:last_comma + 1], weights[:last_comma + 1]
                close()
                ids, weights = moved_ids, moved_weights
            if len(ids) == CHUNK:
                close()
            ids.append(token)
            weights.append(weight)
    if ids or not done:
        close()
    return done


def emphasise(z, weights):
    original_mean = z.mean()
    z = z * torch.asarray(weights).reshape(1, -1, 1).expand(z.shape)
    return z * (original_mean / z.mean())


def encoders(pipe):
    pairs = [(pipe.tokenizer, pipe.text_encoder)]
    if getattr(pipe, "text_encoder_2", None) is not None:
        pairs.append((pipe.tokenizer_2, pipe.text_encoder_2))
    return pairs


def encode(pipe, prompt):
    """(embeddings [1, 77 * chunks, C], pooled [1, P] of the first chunk or None)."""
    sdxl = getattr(pipe, "text_encoder_2", None) is not None
    states, pooled = [], None
    for tokenizer, encoder in encoders(pipe):
        per_chunk = []
        for i, (ids, weights) in enumerate(chunks(tokenizer, prompt)):
            out = encoder(torch.tensor([ids]), output_hidden_states=True)
            z = out.hidden_states[-2] if sdxl else out[0]
            per_chunk.append(emphasise(z, weights))
            if sdxl and i == 0 and encoder is pipe.text_encoder_2:
                pooled = out[0]
        states.append(torch.cat(per_chunk, 1))
    return torch.cat(states, -1), pooled


def lengthen(embeds, empty, length):
    repeats = (length - embeds.shape[1]) // empty.shape[1]
    return torch.cat([embeds, empty.repeat(1, repeats, 1)], 1) if repeats else embeds


def conditioning(pipe, prompt, negative):
    """The pipeline's prompt_embeds keyword arguments for prompt and negative (None: SDXL's zeros,
    or "" elsewhere), both rows as long as the longer one."""
    sdxl = getattr(pipe, "text_encoder_2", None) is not None
    cond, pooled = encode(pipe, prompt)
    if negative is None and sdxl:
        uncond, uncond_pooled = torch.zeros_like(cond[:, :77]), torch.zeros_like(pooled)
    else:
        uncond, uncond_pooled = encode(pipe, negative or "")
    length = max(cond.shape[1], uncond.shape[1])
    if length > 77:
        empty = encode(pipe, "")[0]
        cond, uncond = lengthen(cond, empty, length), lengthen(uncond, empty, length)
    args = dict(prompt_embeds=cond, negative_prompt_embeds=uncond)
    if sdxl:
        args.update(pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=uncond_pooled)
    return args
