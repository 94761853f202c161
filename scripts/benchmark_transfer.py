#!/usr/bin/env python3
"""Benchmarks style injection (`vsp transfer`): time and peak memory per (content, style) pair with
--features recompute and cache, against the feature storage of the official code's approach (a
benchmark, not a test).

  scripts/benchmark_transfer.py --model build/testdata/tiny --size 64 --steps 10
  scripts/benchmark_transfer.py --model models/medium --size 512 --steps 10 --pictures 1 2 --runs 1

For N pictures a side (N contents x N styles, N^2 pairs) and each features mode it prints the
generation time per pair and the process's peak RSS (vsp --timings; the medians of --runs runs).
The official code (jiwoogit/StyleID) pickles, per picture, the q, k and v of every injected layer
at every step in float32; the figure printed is that size computed from the export's layer table
for the layers vsp injects, at this size and step count, beside what vsp keeps: the inverted
latents (recompute), or only the content queries and style keys and values (cache)."""
import argparse
import json
import os
import statistics
import tempfile

import numpy as np
from PIL import Image

from benchmark import run_vsp_timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def injected_layers(manifest):
    """The default transfer layers: the last six self-attention layers."""
    return [row for row in manifest["attention_layers"] if row["kind"] == "self"][-6:]


def feature_bytes(manifest, size, steps, tensors):
    """float32 bytes of `tensors` [tokens, heads * head_dim] tensors per injected layer and step."""
    latent = size // manifest["vae_scale_factor"]
    total = 0
    for row in injected_layers(manifest):
        tokens = (latent >> row["level"]) ** 2
        total += tensors * tokens * row["heads"] * row["head_dim"] * 4
    return total * steps


def write_pictures(folder, count, size, seed):
    os.makedirs(folder)
    rng = np.random.RandomState(seed)
    for i in range(count):
        y, x = np.mgrid[0:size, 0:size]
        pixels = np.stack([(x * (i + 2)) % 256, (y * (i + 3)) % 256, rng.randint(0, 256, (size, size))], axis=-1)
        Image.fromarray(pixels.astype(np.uint8)).save(os.path.join(folder, f"p{i}.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--vsp", default=os.path.join(ROOT, "build", "vsp"))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--pictures", type=int, nargs="+", default=[1, 2], help="pictures a side")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with open(os.path.join(args.model, "manifest.json")) as f:
        manifest = json.load(f)

    print(f"{'pairs':>6}{'features':>11}{'s per pair':>12}{'peak MiB':>10}")
    for count in args.pictures:
        with tempfile.TemporaryDirectory() as tmp:
            write_pictures(os.path.join(tmp, "contents"), count, args.size, 1)
            write_pictures(os.path.join(tmp, "styles"), count, args.size, 2)
            for features in ("recompute", "cache"):
                runs = [run_vsp_timed([args.vsp, "transfer", "--model", args.model, "--content",
                                       os.path.join(tmp, "contents"), "--style", os.path.join(tmp, "styles"),
                                       "--steps", str(args.steps), "-W", str(args.size), "-H", str(args.size),
                                       "--features", features, "--device", args.device, "--out",
                                       os.path.join(tmp, f"out-{features}-{run}"), "--quiet"])
                        for run in range(args.runs)]
                pairs = count * count
                print(f"{pairs:>6}{features:>11}{statistics.median(r['generate'] for r in runs) / pairs:>12.2f}"
                      f"{statistics.median(r['peak_mib'] for r in runs):>10.0f}")

    gib = 1024 ** 3
    latent = args.size // manifest["vae_scale_factor"]
    latents = (args.steps + 1) * manifest["latent_channels"] * latent * latent * 4
    print(f"\nper picture, {args.size}x{args.size}, {args.steps} steps, layers "
          f"{', '.join(r['name'].rsplit('.transformer_blocks', 1)[0] for r in injected_layers(manifest))}:")
    print(f"  official code's pickle (q, k, v of every injected layer and step, fp32): "
          f"{feature_bytes(manifest, args.size, args.steps, 3) / gib:.3f} GiB")
    print(f"  vsp --features cache (a content's q, or a style's k and v): "
          f"{feature_bytes(manifest, args.size, args.steps, 1) / gib:.3f} / "
          f"{feature_bytes(manifest, args.size, args.steps, 2) / gib:.3f} GiB, in memory for the run")
    print(f"  vsp --features recompute (the inverted latents): {latents / 1024 ** 2:.2f} MiB")


if __name__ == "__main__":
    main()
