"""Inputs at and past vsp's limits, end to end on the tiny export: megabyte prompts are tokenised
quickly and stored once, compressed, and resume still recognises their images; oversized or
hostile pictures are refused in one line that names the file and the fix."""
import json
import random
import struct
import zlib

from PIL import Image, PngImagePlugin


def long_prompt(size):
    """Words and numbers in a random order, so that compression has little to find."""
    rng = random.Random(0)
    words = "lighthouse dusk oil painting red fox snow cat astronaut horse city night rain neon".split()
    parts, length = [], 0
    while length < size:
        parts.append(f"{rng.choice(words)} {rng.randrange(100000)},")
        length += len(parts[-1]) + 1
    return " ".join(parts)


def long_word(size):
    rng = random.Random(1)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(size))


def test_megabyte_prompts_are_stored_once_compressed_and_resume(run_vsp, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr(PngImagePlugin, "MAX_TEXT_CHUNK", 16 << 20)  # Pillow refuses text over 1 MB
    prompts = {"words": long_prompt(1 << 20), "word": long_word(1 << 20)}
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps({"defaults": {"steps": 1, "seed": 1}, "jobs": [
        {"mode": "generate", "name": name, "prompt": prompt} for name, prompt in prompts.items()]}))
    out = tmp_path / "out"
    run_vsp("batch", jobs, "--model", tiny_model, "--out", out, "-q")
    for name, prompt in prompts.items():
        path = out / f"{name}_s1.png"
        raw = path.read_bytes()
        # Twice (the A1111 parameters and the JSON) and compressed, against three plain copies before:
        # random letters cannot compress below 4.7 bits a byte, words and numbers go further.
        assert len(raw) < {"words": 0.8, "word": 1.5}[name] * len(prompt), (name, len(raw))
        assert b"zTXtparameters\0" in raw and b"zTXtvsp\0" in raw
        with Image.open(path) as image:
            meta, parameters = json.loads(image.text["vsp"]), image.text["parameters"]
        assert meta["prompt"] == prompt and "prompt" not in meta["job"] and meta["job"]["name"] == name
        assert parameters.startswith(prompt + "\n")
    run_vsp("batch", jobs, "--model", tiny_model, "--out", out, "-q", "--resume")
    statuses = [json.loads(line)["status"] for line in (out / "summary.jsonl").read_text().splitlines()]
    assert statuses == ["skipped", "skipped"]


def png_header_only(width, height):
    """An RGB PNG whose header claims width x height, with no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def style_image_error(run_vsp, tiny_model, tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    result = run_vsp("style", "--style-image", tmp_path / name, "--object", "a cat", "--model", tiny_model,
                     "--steps", 1, "--out", tmp_path / "out", "-q", check=False)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_picture_over_67_megapixels_is_refused_with_a_downscale_command(run_vsp, tiny_model, tmp_path):
    line = style_image_error(run_vsp, tiny_model, tmp_path, "huge photo.png", png_header_only(20000, 20000))
    assert "huge photo.png is 20000x20000 pixels, more than vsp reads (at most 67 megapixels" in line
    assert f"`convert '{tmp_path / 'huge photo.png'}' -resize 4096x4096 '{tmp_path / 'huge photo-small.png'}'`" in line


def test_a_text_chunk_claiming_gigabytes_is_refused(run_vsp, tiny_model, tmp_path):
    data = png_header_only(1, 1)
    claim = struct.pack(">I", 0x71000000) + b"iTXtk\0\0\0\0\0text"
    line = style_image_error(run_vsp, tiny_model, tmp_path, "claim.png", data[:33] + claim + data[33:])
    assert "claim.png is a damaged PNG (its iTXt chunk runs past the end of the file)" in line
