#!/usr/bin/env python3
"""Runs one fixed set of vsp commands with two builds and compares every file they write, byte for
byte: the check that a refactor changed no image (same machine, same export). Each command covers
one mode or output path: generate (--num, --control canny and depth), --style (a preset and
--style-image), transfer (many-to-many, grid), edit (generated source, reweight, blend, maps, and
a picture through DDIM and negative-prompt inversion) and a batch of mixed jobs.

    scripts/same_images.py OLD_VSP NEW_VSP [--model build/testdata/tiny] [--keep DIR]

Prints one line per command and exits 1 when any file differs or exists on one side only.
"""
import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands(model, sd1):
    """(name, argv after the binary) pairs; every path is relative to the run's folder."""
    small = ["--steps", "3", "-W", "64", "-H", "64"]
    return [
        ("generate", ["generate", "-m", model, "-p", "a red fox", "--num", "2", "--seed", "5", *small, "-o", "g/fox.png"]),
        ("generate-canny", ["generate", "-m", model, "-p", "a house", "--control", "canny", "--control-image",
                            "g/fox-0.png", *small, "-o", "c/house.png"]),
        ("generate-depth", ["generate", "-m", model, "-p", "a house", "--control", "depth", "--control-image",
                            "g/fox-1.png", *small, "-o", "d/house.png"]),
        ("generate-sd1", ["generate", "-m", sd1, "-p", "a boat", "--steps", "3", "--sampler", "dpmpp2m", "-o",
                          "s/boat.png"]),
        ("style-preset", ["--style", "fire", "-m", model, "--object", "a cat", "--num", "2", *small, "-o", "fire"]),
        ("style-image", ["--style-image", "g/fox-0.png", "-m", model, "--object", "a cup", *small, "-o", "si"]),
        ("transfer", ["transfer", "-m", model, "--content", "g", "--style", "c/house.png", *small, "--grid",
                      "-o", "t"]),
        ("edit", ["edit", "-m", model, "-p", "a cat sitting on a car", "--to", "a dog sitting on a car", "--to",
                  "a cat sitting on a red car", "--reweight", "red=2", "--blend", "cat,dog,cat", *small,
                  "--save-attention", "maps", "-o", "e"]),
        ("edit-ddim", ["edit", "-m", model, "--image", "g/fox-0.png", "-p", "a red fox", "--to", "a red cat",
                       "--inversion", "ddim", *small, "-o", "ei"]),
        ("edit-null-text", ["edit", "-m", model, "--image", "g/fox-0.png", "-p", "a red fox", "--to", "a red cat",
                            "--steps", "2", "-W", "64", "-H", "64", "--save-null-text", "nt.npy", "-o", "nt"]),
        ("edit-negative", ["edit", "-m", model, "--image", "g/fox-1.png", "-p", "a red fox", "--to", "a blue fox",
                           "--inversion", "negative-prompt", *small, "-o", "en"]),
        ("batch", ["batch", "jobs.json", "-m", model, "-o", "b"]),
    ]


JOBS = {"jobs": [
    {"name": "a", "mode": "generate", "prompt": "a tree", "steps": 3, "width": 64, "height": 64, "seed": 1},
    {"name": "b", "mode": "generate", "prompt": "a bird", "steps": 3, "width": 64, "height": 64, "seed": 2},
    {"name": "c", "mode": "style", "style": "watercolor", "object": ["a boat"], "steps": 3, "width": 64,
     "height": 64},
]}


def run_all(vsp, folder, model, sd1):
    folder.mkdir(parents=True)
    (folder / "jobs.json").write_text(json.dumps(JOBS))
    env = dict(os.environ, VSP_STYLES=str(ROOT / "configs" / "styles"))
    failures = {}
    for name, argv in commands(model, sd1):
        done = subprocess.run([vsp, *argv, "--quiet"], cwd=folder, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            failures[name] = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    return failures


def same_file(a, b):
    """Byte-identical; a batch summary is compared without its timings."""
    if a.name == "summary.jsonl":
        rows = [[{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in p.read_text().splitlines()]
                for p in (a, b)]
        return rows[0] == rows[1]
    return filecmp.cmp(a, b, shallow=False)


def files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and p.name != "jobs.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--model", default=str(ROOT / "build/testdata/tiny"))
    parser.add_argument("--sd1", default=str(ROOT / "build/testdata/sd1-tiny"))
    parser.add_argument("--keep", help="write the two runs here (default: a temporary folder, removed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(args.keep) if args.keep else Path(scratch)
        old, new = base / "old", base / "new"
        old_failures = run_all(os.path.abspath(args.old), old, args.model, args.sd1)
        new_failures = run_all(os.path.abspath(args.new), new, args.model, args.sd1)
        bad = 0
        for name, _ in commands(args.model, args.sd1):
            if name in old_failures or name in new_failures:
                print(f"{name}: FAILED (old: {old_failures.get(name, 'ok')}; new: {new_failures.get(name, 'ok')})")
                bad += 1
        old_files, new_files = files(old), files(new)
        for path in sorted(set(old_files) ^ set(new_files)):
            print(f"{path}: only in {'old' if path in old_files else 'new'}")
            bad += 1
        same = 0
        for path in sorted(set(old_files) & set(new_files)):
            if same_file(old / path, new / path):
                same += 1
            else:
                print(f"{path}: differs")
                bad += 1
        print(f"same_images: {same} files byte-identical, {bad} problem(s), {len(commands(args.model, args.sd1))} "
              "commands")
        return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
