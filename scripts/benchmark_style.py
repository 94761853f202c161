#!/usr/bin/env python3
"""Benchmarks visual style prompting's shared reference: one run with N targets against N runs
with one target each (a benchmark, not a test).

  scripts/benchmark_style.py --model build/testdata/tiny --steps 20
  scripts/benchmark_style.py --model models/sdxl-structure --pipeline models/sdxl-structure-diffusers \\
      --size 512 --steps 3 --counts 1 4 --runs 1

For each N it prints the generation time per target image, the process's peak RSS (and on CUDA
the allocator's peak), and the ratio of the per-image time to a one-target run's. "generate"
excludes model loading (vsp --timings); runs are repeated --runs times and the medians kept.

With --pipeline (the diffusers twin of the export), the same style also runs through the plain
Python implementation of the method (tests/python/vsp_reference.py: the whole CFG batch
[u_ref, u_targets, c_ref, c_targets] in one UNet call, as the paper's code batches it, with
diffusers' SDPA), in its own process, for its time and peak RSS."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from benchmark import run_vsp_timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_style(args, num, out):
    return run_vsp_timed([args.vsp, "--style", args.style, "--model", args.model, "--num", str(num), "--steps",
                          str(args.steps), "--width", str(args.size), "--height", str(args.size), "--device",
                          args.device, "--out", out, "--quiet"])


def style_run(args, num):
    """The style's settings as vsp_reference.StyleRun fields, for num targets (seeds counting on)."""
    with open(os.path.join(ROOT, "configs", "styles", f"{args.style}.json")) as f:
        style = json.load(f)
    objects = [style["targets"][i % len(style["targets"])] for i in range(num)]
    seeds = [style["seeds"][i] if i < len(style["seeds"]) else style["seeds"][-1] + i - len(style["seeds"]) + 1
             for i in range(num)]
    return dict(reference_prompt=style["template"].format(object=style["reference_object"]),
                target_prompts=[style["template"].format(object=o) for o in objects],
                reference_seed=style["reference_seed"], target_seeds=seeds, layers=style["layers"],
                steps=args.steps, cfg=style["cfg"], sampler=style["sampler"], negative=style["negative"],
                zero_target_negatives=style["zero_target_negatives"],
                warmup_steps=min(style["warmup"]["steps"], args.steps), warmup_cfg=style["warmup"]["cfg"],
                width=args.size, height=args.size)


def python_child(args):
    """Runs inside the child process: load the diffusers twin, then time one style run."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    import torch
    from diffusers import StableDiffusionXLPipeline
    from vsp_reference import StyleRun, visual_style_prompting
    torch.set_grad_enabled(False)
    pipe = StableDiffusionXLPipeline.from_pretrained(args.pipeline, torch_dtype=torch.float32)
    started = time.perf_counter()
    visual_style_prompting(pipe, StyleRun(**style_run(args, args.num)))
    print(json.dumps({"generate": time.perf_counter() - started,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def run_python(args, num):
    cmd = [sys.executable, os.path.abspath(__file__), "--python-child", "--pipeline", args.pipeline, "--style",
           args.style, "--steps", str(args.steps), "--size", str(args.size), "--num", str(num), "--model", args.model]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"benchmark: the Python style run failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--pipeline", help="the diffusers twin of --model: also run the plain Python method")
    parser.add_argument("--vsp", default=os.path.join(ROOT, "build", "vsp"))
    parser.add_argument("--style", default="fire")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--num", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--python-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_child:
        return python_child(args)
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for num in args.counts:
            runs = [run_style(args, num, os.path.join(folder, f"n{num}-{i}")) for i in range(args.runs)]
            results[num] = {key: statistics.median(r[key] for r in runs)
                            for key in ("generate", "peak_mib")}
            devices = [r["device_mib"] for r in runs if r["device_mib"] is not None]
            results[num]["device_mib"] = statistics.median(devices) if devices else None
        single = results.get(1) or run_style(args, 1, tempfile.mkdtemp())
    print(f"style {args.style}, {args.size}x{args.size}, {args.steps} steps, device {args.device}; medians of {args.runs}")
    print(f"{'targets':>8}{'generate s':>12}{'s / image':>11}{'vs 1-target':>13}{'N runs s':>10}{'peak MiB':>10}"
          f"{'device MiB':>12}")
    for num, r in results.items():
        per_image = r["generate"] / num
        device = f"{r['device_mib']:.0f}" if r["device_mib"] is not None else "-"
        print(f"{num:>8}{r['generate']:>12.3f}{per_image:>11.3f}{per_image / single['generate']:>13.2f}"
              f"{num * single['generate']:>10.3f}{r['peak_mib']:>10.0f}{device:>12}")
    print("'N runs s' is N separate one-target runs; 'vs 1-target' is the time per image over a one-target run's.")
    if args.pipeline:
        print("plain Python method on diffusers (one run each):")
        print(f"{'targets':>8}{'generate s':>12}{'peak MiB':>10}{'vsp/python time':>17}{'vsp/python memory':>19}")
        for num, r in results.items():
            theirs = run_python(args, num)
            print(f"{num:>8}{theirs['generate']:>12.3f}{theirs['peak_mib']:>10.0f}"
                  f"{r['generate'] / theirs['generate']:>17.2f}{r['peak_mib'] / theirs['peak_mib']:>19.2f}")


if __name__ == "__main__":
    main()
