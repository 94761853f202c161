#!/usr/bin/env python3
"""Benchmarks visual style prompting's shared reference: one run with N targets against N runs
with one target each (a benchmark, not a test).

  scripts/benchmark_style.py --model build/testdata/tiny --steps 20
  scripts/benchmark_style.py --model models/medium --size 512 --steps 20 --counts 1 4 8

For each N it prints the generation time per target image and the process's peak RSS, and the
ratio of the per-image time to a one-target run's. "generate" excludes model loading (vsp
--timings); runs are repeated --runs times and the medians kept."""
import argparse
import os
import statistics
import tempfile

from benchmark import run_vsp_timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_style(args, num, out):
    return run_vsp_timed([args.vsp, "--style", args.style, "--model", args.model, "--num", str(num), "--steps",
                          str(args.steps), "--width", str(args.size), "--height", str(args.size), "--device",
                          args.device, "--out", out, "--quiet"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--vsp", default=os.path.join(ROOT, "build", "vsp"))
    parser.add_argument("--style", default="fire")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for num in args.counts:
            runs = [run_style(args, num, os.path.join(folder, f"n{num}-{i}")) for i in range(args.runs)]
            results[num] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    single = results.get(1) or run_style(args, 1, tempfile.mkdtemp())
    print(f"style {args.style}, {args.size}x{args.size}, {args.steps} steps, device {args.device}; medians of {args.runs}")
    print(f"{'targets':>8}{'generate s':>12}{'s / image':>11}{'vs 1-target':>13}{'N runs s':>10}{'peak MiB':>10}")
    for num, r in results.items():
        per_image = r["generate"] / num
        print(f"{num:>8}{r['generate']:>12.3f}{per_image:>11.3f}{per_image / single['generate']:>13.2f}"
              f"{num * single['generate']:>10.3f}{r['peak_mib']:>10.0f}")
    print("'N runs s' is N separate one-target runs; 'vs 1-target' is the time per image over a one-target run's.")


if __name__ == "__main__":
    main()
