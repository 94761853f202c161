#!/usr/bin/env python3
"""Runs every command the README shows: each ```sh / ```bash block, and the `run:` steps of its CI
(```yaml) example, on the tiny test exports, as a user pastes them from the checkout's root.

    scripts/readme_commands.py [--list] [--line N ...] [--keep DIR]

Each block runs in a fresh folder laid out like a checkout (build/vsp, configs/, scripts/,
.venv/, tests/jobs.json), its commands in order, so a later command may use an earlier one's
files. Two substitutions only:
  - the model path: `vsp` is the built binary (on PATH), and the model folders the README names
    (models/sdxl, the default of -m; models/sd15; path/to/diffusers_folder) are links to the tiny
    exports in build/testdata (made by scripts/test.sh);
  - the inputs the README assumes the user has: small PNGs (photo.png, bird.png, photos/, ...) and
    a LoRA (style.safetensors), sized for the tiny model, and jobs.json, written from the README's
    own jobs.json example.
A command whose trailing comment says "(exits N)" must exit N; every other one must exit 0.
Commands a test machine cannot run are listed in SKIP with the reason. Prints a line per command
and exits 1 if any failed."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BUILD = Path(os.environ.get("VSP_BUILD_DIR", ROOT / "build"))
DATA = BUILD / "testdata"

# The model-path substitution: folder the README names -> tiny export under build/testdata.
MODELS = {"models/sdxl": "tiny", "models/sd15": "sd1-tiny", "models/tiny": "tiny",
          "path/to/diffusers_folder": "tiny-diffusers"}
# Pictures the README's commands read, as a user would have them (64x64: the tiny models' size).
PICTURES = ["photo.png", "painting.png", "bird.png", "depth.png", "gundam.png", "The starry night.png",
            "refs/The starry night.png", "photos/street.png", "photos/beach.png", "paintings/waves.png",
            "edges/bird.png", "mask.png"]

# Not run: (a piece of the command, why). Anything not listed runs.
SKIP = [
    ("scripts/setup.sh", "installs packages with apt and pip and builds: the test machine is set up already"),
    ("scripts/test.sh", "the whole test suite, which runs this test"),
    ("--model stabilityai/", "downloads the model from the Hugging Face hub"),
    ("--model stable-diffusion-v1-5/", "downloads the model from the Hugging Face hub"),
    ("sd_xl_base_1.0.safetensors", "a real single-file checkpoint; test_single_file_export.py exports the tiny "
                                   "pipeline written in this layout, offline"),
    ("v1-5-pruned-emaonly.safetensors", "as above, SD 1.x"),
    ("--tiny --out models/tiny", "scripts/test.sh makes build/testdata/tiny with this command, and models/tiny links "
                                 "there (30 s an export on 2 cores)"),
    ("--device cuda", "needs a GPU"),
    ("--random medium", "exports a mid-size model: minutes on 2 cores"),
    ("gpu-deps.sh", "the GPU machine's setup (no GPU here)"),
    ("cmake --install build --prefix ~/.local", "installs into the user's home; test_install.py installs to a "
                                                "temporary prefix"),
    ("cmake ", "builds vsp; the binary under test is already built"),
    ("--model models/sdxl-cuda", "needs the CUDA export made on the GPU machine"),
    ("scripts/benchmark.py", "a benchmark: minutes of CPU per run"),
    ("--random sdxl-structure", "exports the benchmark model: only the benchmark below uses it"),
    ("--random sd1-medium", "exports the benchmark model: only the benchmark below uses it"),
    ("--attention-map 512,300", "pixel 512,300 is inside SDXL's 1024x1024 image, outside the tiny model's 64x64"),
    ("--model models/sd15 -W 512 -H 512", "512x512 with 50 steps: two minutes on the tiny SD 1.x model"),
    ('--to "a dog riding a bicycle"   # null-text', "null-text optimisation over 50 steps: five minutes here"),
]
# Options of a synopsis ("[--steps 50]") left out of its run: the reason.
SLOW_OPTIONS = {"[--width 1024 --height 1024]": "1024x1024 with 50 steps: five minutes on the tiny model"}
# A block that continues the README block just before it (same folder, after it): a piece of it.
CONTINUES = ["vsp check --golden", "regression-images:"]


@dataclass
class Command:
    line: int                  # README line where it starts
    text: str                  # as the README shows it (continuations joined)
    run: str = ""              # what runs (a synopsis expanded)
    skip: str = ""             # why it does not run
    expect: int = 0


@dataclass
class Block:
    line: int
    commands: list = field(default_factory=list)
    continues: bool = False


def fenced_blocks(text):
    """(line of the fence, language, dedented body lines with their line numbers)."""
    blocks, current = [], None
    for number, line in enumerate(text.splitlines(), 1):
        fence = re.match(r"^(\s*)```(\w*)\s*$", line)
        if fence and current is None:
            current = (number, fence.group(2), len(fence.group(1)), [])
        elif fence:
            blocks.append((current[0], current[1], current[3]))
            current = None
        elif current:
            current[3].append((number, line[current[2]:]))
    return blocks


def shell_commands(lines):
    """Logical commands: `\\` continues a line, and so does an indented line (a synopsis's)."""
    commands = []
    for number, line in lines:
        if not line.strip():
            continue
        if commands and (commands[-1].text.endswith("\\") or line[0].isspace()):
            commands[-1].text = commands[-1].text.rstrip("\\").rstrip() + " " + line.strip()
        else:
            commands.append(Command(number, line.strip()))
    return commands


def expand_synopsis(text):
    """A synopsis's optional groups included (first of each a|b|c), minus SLOW_OPTIONS."""
    def group(match):
        if match.group(0) in SLOW_OPTIONS:
            return ""
        return re.sub(r"([^\s|]+)(\|[^\s|]+)+", r"\1", match.group(1))
    if not re.search(r"\[-", text):
        return text
    return re.sub(r"\s+", " ", re.sub(r"\[(-[^\]]*)\]", group, text))


def readme_blocks(readme=README):
    blocks = []
    for line, language, body in fenced_blocks(readme.read_text()):
        if language in ("sh", "bash"):
            commands = shell_commands(body)
        elif language == "yaml" and any("run:" in text for _, text in body):
            commands = [Command(n, text.split("run:", 1)[1].strip()) for n, text in body
                        if re.match(r"\s*-?\s*run:", text)]
        else:
            continue
        block = Block(line, commands)
        block.continues = any(piece in "\n".join(t for _, t in body) for piece in CONTINUES)
        for command in commands:
            command.run = expand_synopsis(command.text)
            command.skip = next((why for piece, why in SKIP if piece in command.text), "")
            exits = re.search(r"#.*\(exits (\d+)\)", command.text)
            command.expect = int(exits.group(1)) if exits else 0
        blocks.append(block)
    return blocks


def groups(blocks):
    """Blocks that share a folder: a block plus the ones that continue it."""
    out = []
    for block in blocks:
        if block.continues and out:
            out[-1].append(block)
        else:
            out.append([block])
    return out


def readme_jobs_file(readme=README):
    """The README's jobs.json example (the ```json block with "jobs")."""
    for _, language, body in fenced_blocks(readme.read_text()):
        text = "\n".join(t for _, t in body)
        if language == "json" and '"jobs"' in text:
            return json.loads(text)
    raise SystemExit("README.md has no jobs.json example")


def prepare(folder, group):
    """A user's checkout root, with the model path and the inputs substituted."""
    import numpy as np
    from PIL import Image
    (folder / "build").mkdir(parents=True)
    (folder / "build" / "vsp").symlink_to(BUILD / "vsp")
    for name in ("configs", "scripts", ".venv"):
        (folder / name).symlink_to(ROOT / name)
    (folder / "tests").mkdir()
    (folder / "tests" / "jobs.json").symlink_to(ROOT / "tests" / "jobs.json")
    written = " ".join(c.text for b in group for c in b.commands if not c.skip)
    for name, export in MODELS.items():
        if f"--out {name}" not in written:  # a block that exports there writes its own folder
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).symlink_to(DATA / export)
    rng = np.random.default_rng(0)
    for name in PICTURES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        blocks = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)  # coarse blocks: edges for canny
        Image.fromarray(blocks.repeat(8, 0).repeat(8, 1)).save(folder / name)
    # A LoRA as a user downloads one (kohya's format), on a layer the tiny models have (conv_in, 4 -> 32).
    from safetensors.numpy import save_file
    save_file({"lora_unet_conv_in.lora_down.weight": rng.standard_normal((1, 4, 3, 3), dtype=np.float32) * 0.1,
               "lora_unet_conv_in.lora_up.weight": rng.standard_normal((32, 1, 1, 1), dtype=np.float32) * 0.1},
              str(folder / "style.safetensors"))
    (folder / "jobs.json").write_text(json.dumps(readme_jobs_file(), indent=2))
    (folder / ".bin").mkdir()
    (folder / ".bin" / "vsp").symlink_to(BUILD / "vsp")


@dataclass
class Result:
    command: Command
    code: int
    seconds: float
    stderr: str

    @property
    def ok(self):
        return self.code == self.command.expect


def run_group(group, folder, log=print, timeout=600):
    """Runs a group's commands in order in folder; returns the Results (skipped ones left out)."""
    prepare(folder, group)
    env = {k: v for k, v in os.environ.items() if k not in ("VSP_STYLES", "VSP_MODEL")}  # a plain shell's
    env["PATH"] = f"{folder / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    results = []
    for command in (c for block in group for c in block.commands):
        if command.skip:
            log(f"README:{command.line}  skip  {command.text}\n    ({command.skip})")
            continue
        start = time.monotonic()
        try:
            done = subprocess.run(["bash", "-e", "-c", command.run], cwd=folder, env=env, capture_output=True,
                                  text=True, stdin=subprocess.DEVNULL, timeout=timeout)
            code, stderr = done.returncode, done.stderr
        except subprocess.TimeoutExpired as e:
            code, stderr = -1, f"timed out after {timeout} s\n{e.stderr or ''}"
        result = Result(command, code, time.monotonic() - start, stderr)
        results.append(result)
        log(f"README:{command.line}  {'ok' if result.ok else f'FAILED (exit {code})'}  {result.seconds:.1f}s  "
            f"{command.run}")
        if not result.ok:
            log("    " + "\n    ".join(stderr.strip().splitlines()[-5:]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print the commands and what runs, run nothing")
    parser.add_argument("--line", type=int, action="append", help="only the block at this README line")
    parser.add_argument("--keep", type=Path, help="run in folders under DIR and keep them")
    args = parser.parse_args()
    if not (BUILD / "vsp").exists():
        sys.exit(f"{BUILD / 'vsp'} is missing: build first (scripts/setup.sh)")
    failed = 0
    for group in groups(readme_blocks()):
        if args.line and group[0].line not in args.line:
            continue
        if args.list:
            for c in (c for b in group for c in b.commands):
                print(f"README:{c.line}  {'skip: ' + c.skip if c.skip else 'run: ' + c.run}")
            continue
        parent = args.keep or Path(tempfile.mkdtemp(prefix="vsp-readme-"))
        folder = parent / f"block-{group[0].line}"
        try:
            failed += sum(not r.ok for r in run_group(group, folder))
        finally:
            if not args.keep:
                shutil.rmtree(parent, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
