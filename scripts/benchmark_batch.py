#!/usr/bin/env python3
"""Benchmarks vsp batch (a benchmark, not a test): N generate jobs as N vsp generate processes,
against one vsp batch process at --batch-size 1 and 4, and the cost of --resume on a finished
batch.

  scripts/benchmark_batch.py --model build/testdata/tiny --jobs 8 --steps 20
  scripts/benchmark_batch.py --model models/medium --size 256 --jobs 8 --steps 10

Times are whole-process wall seconds (model loading included); medians of --runs. Peak memory is
the process's peak RSS, and on CUDA the allocator's peak from vsp --timings ("device MiB")."""
import argparse
import json
import os
import statistics
import tempfile

from benchmark import run_vsp_timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jobs(args):
    return [{"mode": "generate", "name": f"j{i}", "prompt": f"a lighthouse number {i}", "seed": i}
            for i in range(args.jobs)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--vsp", default=os.path.join(ROOT, "build", "vsp"))
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    common = ["--model", args.model, "--device", args.device, "--quiet"]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "jobs.json")
        with open(path, "w") as f:
            json.dump({"defaults": {"steps": args.steps, "width": args.size, "height": args.size}, "jobs": jobs(args)}, f)

        def separate(run):
            results = [run_vsp_timed([args.vsp, "generate", "--prompt", job["prompt"], "--seed", str(job["seed"]),
                                  "--steps", str(args.steps), "--width", str(args.size), "--height", str(args.size),
                                  "--out", os.path.join(folder, f"sep{run}-{job['name']}.png"), *common])
                       for job in jobs(args)]
            devices = [r["device_mib"] for r in results if r["device_mib"] is not None]
            return {"total": sum(r["total"] for r in results), "peak_mib": max(r["peak_mib"] for r in results),
                    "device_mib": max(devices) if devices else None}

        def batch(run, size, resume=False):
            out = os.path.join(folder, f"batch{size}-{run}")
            if resume:
                run_vsp_timed([args.vsp, "batch", path, "--out", out, "--batch-size", str(size), *common])
            return run_vsp_timed([args.vsp, "batch", path, "--out", out, "--batch-size", str(size), *common] +
                                 (["--resume"] if resume else []))

        rows = {
            f"{args.jobs} x vsp generate": [separate(i) for i in range(args.runs)],
            "vsp batch --batch-size 1": [batch(i, 1) for i in range(args.runs)],
            "vsp batch --batch-size 4": [batch(i, 4) for i in range(args.runs)],
            "vsp batch --resume (all done)": [batch(i, 4, resume=True) for i in range(args.runs)],
        }
    print(f"{args.jobs} generate jobs, {args.size}x{args.size}, {args.steps} steps, device {args.device}; "
          f"medians of {args.runs}")
    print(f"{'':<32}{'wall s':>9}{'s / image':>11}{'peak MiB':>10}{'device MiB':>12}")
    for name, runs in rows.items():
        total = statistics.median(r["total"] for r in runs)
        peak = statistics.median(r["peak_mib"] for r in runs)
        devices = [r["device_mib"] for r in runs if r["device_mib"] is not None]
        device = f"{statistics.median(devices):.0f}" if devices else "-"
        print(f"{name:<32}{total:>9.2f}{total / args.jobs:>11.3f}{peak:>10.0f}{device:>12}")


if __name__ == "__main__":
    main()
