#!/usr/bin/env python3
"""Benchmarks prompt-to-prompt (`vsp edit`): an edit of a source and N edited prompts against plain
generation of as many images in one batch (`vsp generate --num N+1`), same size, steps, sampler
(DDIM) and guidance (a benchmark, not a test).

  scripts/benchmark_edit.py --model build/testdata/tiny --size 64 --steps 10
  scripts/benchmark_edit.py --model models/medium --size 512 --steps 10 --edits 1 3 --runs 1

For each N it prints the generation time (text encoding, denoising, VAE decode; vsp --timings) and
the process's peak RSS of both, the medians of --runs runs, with local blend and without. Then it
edits the source image back as a real picture (`vsp edit --image`) with each inversion and prints the
inversion's and the null-text optimisation's own times beside the run's."""
import argparse
import os
import statistics
import tempfile

from benchmark import run_vsp_timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = "a cat riding a bicycle"
ANIMALS = ["dog", "fox", "tiger", "rabbit", "horse", "bear", "lion", "panda"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--vsp", default=os.path.join(ROOT, "build", "vsp"))
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--edits", type=int, nargs="+", default=[1, 3], help="edited prompts N")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--inversions", nargs="*", default=["null-text", "negative-prompt", "ddim"],
                        help="real-image edits to time (none: skip)")
    args = parser.parse_args()
    common = ["--model", args.model, "--steps", str(args.steps), "-W", str(args.size), "-H", str(args.size),
              "--cfg", "7.5", "--sampler", "ddim", "--device", args.device, "-q"]

    print(f"{'images':>7}{'run':>22}{'generate s':>12}{'peak MiB':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for edits in args.edits:
            if edits > len(ANIMALS):
                raise SystemExit(f"at most {len(ANIMALS)} edits")
            to = []
            for animal in ANIMALS[:edits]:
                to += ["--to", f"a {animal} riding a bicycle"]
            blend = ",".join(["cat", *ANIMALS[:edits]])
            cases = {
                "generate --num": [args.vsp, "generate", "--prompt", SOURCE, "--num", str(edits + 1)],
                "edit": [args.vsp, "edit", "--prompt", SOURCE, *to],
                "edit --blend": [args.vsp, "edit", "--prompt", SOURCE, *to, "--blend", blend],
            }
            for name, cmd in cases.items():
                out = os.path.join(tmp, f"{name.replace(' ', '_')}-{edits}")
                out_args = ["--out", out + ".png"] if cmd[1] == "generate" else ["--out", out]
                runs = [run_vsp_timed(cmd + common + out_args) for _ in range(args.runs)]
                print(f"{edits + 1:>7}{name:>22}{statistics.median(r['generate'] for r in runs):>12.2f}"
                      f"{statistics.median(r['peak_mib'] for r in runs):>10.0f}")
        if args.inversions:
            real_image(args, common, os.path.join(tmp, f"edit-{args.edits[0]}", "source.png"), tmp)


def real_image(args, common, picture, tmp):
    """Edits a picture vsp made as a real one: DDIM inversion, then each inversion's edit."""
    print(f"\n{'--image, inversion':<22}{'generate s':>12}{'inversion s':>13}{'null-text s':>13}{'peak MiB':>10}")
    for inversion in args.inversions:
        cmd = [args.vsp, "edit", "--image", picture, "--prompt", SOURCE, "--to", f"a {ANIMALS[0]} riding a bicycle",
               "--inversion", inversion, *common, "--out", os.path.join(tmp, f"real-{inversion}")]
        runs = [run_vsp_timed(cmd) for _ in range(args.runs)]
        phase = lambda name: statistics.median(r["phases"].get(name, (0.0,))[0] for r in runs)
        print(f"{inversion:<22}{statistics.median(r['generate'] for r in runs):>12.2f}{phase('inversion'):>13.2f}"
              f"{phase('null-text'):>13.2f}{statistics.median(r['peak_mib'] for r in runs):>10.0f}")


if __name__ == "__main__":
    main()
