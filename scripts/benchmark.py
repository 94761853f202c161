#!/usr/bin/env python3
"""Times `vsp generate` against diffusers' StableDiffusionXLPipeline on the same weights and
prints the ratio and the peak memory of each (a benchmark, not a test).

  scripts/benchmark.py --model build/testdata/tiny --pipeline build/testdata/tiny-diffusers
  scripts/benchmark.py --model models/medium --pipeline models/medium-diffusers --steps 20 --size 512

Each side runs in its own process, --runs times; the figures are medians. "total" is the whole
process (start, model load, generation, PNG); "generate" is the denoising loop plus VAE decode.
Peak memory is the process's peak RSS (host memory; on CUDA it leaves out device memory)."""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def diffusers_child(args):
    """Runs inside the child process: load, warm up with a 2-step run, then time one generation."""
    import resource

    import torch
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, StableDiffusionXLPipeline
    torch.set_grad_enabled(False)
    started = time.perf_counter()
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    pipe = StableDiffusionXLPipeline.from_pretrained(args.pipeline, torch_dtype=dtype).to(args.device)
    schedulers = {"euler": EulerDiscreteScheduler, "ddim": DDIMScheduler, "dpmpp2m": DPMSolverMultistepScheduler}
    pipe.scheduler = schedulers[args.sampler].from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    load = time.perf_counter() - started

    def generate(steps):
        return pipe(prompt=args.prompt, num_inference_steps=steps, guidance_scale=5.0, width=args.size,
                    height=args.size, num_images_per_prompt=args.num,
                    generator=torch.Generator("cpu").manual_seed(0)).images

    generate(2)  # warm-up: first-call costs are not the pipeline's steady speed
    if args.device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    generate(args.steps)
    if args.device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = (torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({"load": load, "generate": seconds, "peak_mib": peak}))


def run_timed(cmd):
    """Runs a command; returns its wall seconds, peak RSS in MiB and stderr (exits on failure)."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"benchmark: {' '.join(cmd)} failed:\n{err}")
    return {"total": time.perf_counter() - started, "peak_mib": usage.ru_maxrss / 1024, "stderr": err}


def run_vsp_timed(cmd):
    """Runs a vsp command with --timings; returns its wall, load and generate seconds and peak RSS."""
    run = run_timed(cmd + ["--timings"])
    match = re.search(r"timings: load ([\d.]+) s, generate ([\d.]+) s", run["stderr"])
    if not match:
        sys.exit(f"benchmark: {' '.join(cmd)} printed no timings:\n{run['stderr']}")
    return {"total": run["total"], "load": float(match.group(1)), "generate": float(match.group(2)),
            "peak_mib": run["peak_mib"]}


def vsp_once(args, out):
    return run_vsp_timed([args.vsp, "generate", "--model", args.model, "--prompt", args.prompt, "--steps",
                          str(args.steps), "--width", str(args.size), "--height", str(args.size), "--sampler",
                          args.sampler, "--num", str(args.num), "--seed", "0", "--out", out, "--device", args.device])


def diffusers_once(args):
    cmd = [sys.executable, os.path.abspath(__file__), "--diffusers-child", "--pipeline", args.pipeline,
           "--prompt", args.prompt, "--steps", str(args.steps), "--size", str(args.size), "--sampler", args.sampler,
           "--num", str(args.num), "--device", args.device, "--dtype", args.dtype]
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"benchmark: the diffusers run failed:\n{result.stderr}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return dict(figures, total=wall)


def median(runs, key):
    return statistics.median(run[key] for run in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="vsp model folder (scripts/export.py)")
    parser.add_argument("--pipeline", required=True, help="the diffusers folder with the same weights")
    parser.add_argument("--vsp", default=os.path.join(ROOT, "build", "vsp"))
    parser.add_argument("--prompt", default="a watercolor painting of a lighthouse at dusk")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--num", type=int, default=1)
    parser.add_argument("--sampler", default="euler")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--diffusers-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.diffusers_child:
        return diffusers_child(args)
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        ours = [vsp_once(args, os.path.join(folder, "bench.png")) for _ in range(args.runs)]
    theirs = [diffusers_once(args) for _ in range(args.runs)]
    print(f"{args.runs} runs each, {args.size}x{args.size}, {args.steps} steps, {args.sampler}, num {args.num}, "
          f"{args.device} {args.dtype}; medians")
    print(f"{'':10}{'total s':>10}{'load s':>10}{'generate s':>12}{'peak MiB':>10}")
    for name, runs in (("vsp", ours), ("diffusers", theirs)):
        print(f"{name:10}{median(runs, 'total'):10.2f}{median(runs, 'load'):10.2f}{median(runs, 'generate'):12.3f}"
              f"{median(runs, 'peak_mib'):10.0f}")
    print(f"ratio vsp/diffusers: total {median(ours, 'total') / median(theirs, 'total'):.2f}, "
          f"generate {median(ours, 'generate') / median(theirs, 'generate'):.2f}, "
          f"peak memory {median(ours, 'peak_mib') / median(theirs, 'peak_mib'):.2f}")


if __name__ == "__main__":
    main()
