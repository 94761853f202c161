#!/usr/bin/env python3
"""The cost of --deterministic (one image per UNet call) against vsp's default chunking, for
`vsp generate --num N` (8 images per call) and `vsp --style S --num N` (every target in one call)
(a benchmark, not a test).

  scripts/benchmark_deterministic.py --model models/medium --size 512 --steps 4 --num 4 --runs 1

Prints, per command, the generation time (vsp --timings: model loading excluded) and the process's
peak RSS (and on CUDA the allocator's peak), medians of --runs, and the ratio of --deterministic to
the default."""
import argparse
import os
import statistics
import tempfile

from benchmark import run_vsp_timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def commands(args, out):
    size = ["--width", str(args.size), "--height", str(args.size), "--steps", str(args.steps), "--num",
            str(args.num), "--model", args.model, "--device", args.device, "--quiet"]
    return {
        f"generate --num {args.num}": [args.vsp, "generate", "--prompt", "a lighthouse at dusk", "--seed", "0",
                                       "--out", os.path.join(out, "out.png"), *size],
        f"--style {args.style} --num {args.num}": [args.vsp, "--style", args.style, "--out",
                                                   os.path.join(out, "style"), *size],
    }


def median_run(cmd, runs):
    results = [run_vsp_timed(cmd) for _ in range(runs)]
    devices = [r["device_mib"] for r in results if r["device_mib"] is not None]
    return {"generate": statistics.median(r["generate"] for r in results),
            "peak_mib": statistics.median(r["peak_mib"] for r in results),
            "device_mib": statistics.median(devices) if devices else None}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--vsp", default=os.path.join(ROOT, "build", "vsp"))
    parser.add_argument("--style", default="fire")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--num", type=int, default=4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.size}x{args.size}, {args.steps} steps, device {args.device}; medians of {args.runs}")
    print(f"{'command':<28}{'mode':<16}{'generate s':>12}{'peak MiB':>10}{'device MiB':>12}{'time x':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for name, cmd in commands(args, folder).items():
            default = median_run(cmd, args.runs)
            deterministic = median_run(cmd + ["--deterministic"], args.runs)
            for mode, r in (("default", default), ("--deterministic", deterministic)):
                device = f"{r['device_mib']:.0f}" if r["device_mib"] is not None else "-"
                print(f"{name:<28}{mode:<16}{r['generate']:>12.2f}{r['peak_mib']:>10.0f}{device:>12}"
                      f"{r['generate'] / default['generate']:>8.2f}")


if __name__ == "__main__":
    main()
