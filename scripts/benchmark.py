#!/usr/bin/env python3
"""Times `vsp generate` against diffusers' pipeline on the same weights (StableDiffusionXLPipeline,
or StableDiffusionPipeline for SD 1.x/2.x: the one the diffusers folder names) and
prints the ratio and the peak memory of each (a benchmark, not a test).

  scripts/benchmark.py --model build/testdata/tiny --pipeline build/testdata/tiny-diffusers
  scripts/benchmark.py --model models/medium --pipeline models/medium-diffusers --steps 20 --size 512
  scripts/benchmark.py --model models/sd1-medium --pipeline models/sd1-medium-diffusers --steps 20 --size 512

Each side runs in its own process, --runs times; the figures are medians. "total" is the whole
process (start, model load, generation, PNG); "generate" is text encoding, the denoising loop and
the VAE decode. "peak MiB" is the process's peak RSS; on CUDA "device MiB" is the peak of the
CUDA caching allocator (torch.cuda.max_memory_allocated for diffusers, the allocator's stats from
vsp --timings). vsp's per-phase figures (--timings: load, text, denoise, decode, write) follow.
"generate" is the first generation of the process for both (vsp's only one); diffusers' second,
warm generation is shown too. "total" for diffusers includes that second generation."""
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
    """Runs inside the child process: load, then time a first generation (cold, as every vsp run
    is) and a second one (warm: kernels chosen and memory mapped by the first)."""
    import resource

    import torch
    from diffusers import DDIMScheduler, DiffusionPipeline, DPMSolverMultistepScheduler, EulerDiscreteScheduler
    torch.set_grad_enabled(False)
    started = time.perf_counter()
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    pipe = DiffusionPipeline.from_pretrained(args.pipeline, torch_dtype=dtype).to(args.device)
    schedulers = {"euler": EulerDiscreteScheduler, "ddim": DDIMScheduler, "dpmpp2m": DPMSolverMultistepScheduler}
    pipe.scheduler = schedulers[args.sampler].from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    load = time.perf_counter() - started

    def generate(steps):
        return pipe(prompt=args.prompt, num_inference_steps=steps, guidance_scale=5.0, width=args.size,
                    height=args.size, num_images_per_prompt=args.num,
                    generator=torch.Generator("cpu").manual_seed(0)).images

    def timed():
        started = time.perf_counter()
        generate(args.steps)
        if args.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    seconds = timed()
    warm = timed()
    device_peak = torch.cuda.max_memory_allocated() / 2**20 if args.device == "cuda" else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"load": load, "generate": seconds, "warm": warm, "peak_mib": peak, "device_mib": device_peak}))


def run_timed(cmd):
    """Runs a command; returns its wall seconds, peak RSS in MiB and stderr (exits on failure)."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"benchmark: {' '.join(cmd)} failed:\n{err}")
    return {"total": time.perf_counter() - started, "peak_mib": usage.ru_maxrss / 1024, "stderr": err}


PHASE = re.compile(r"timings: phase (\S+) ([\d.]+) s, peak RSS ([\d.]+) MiB, RSS after [\d.]+ MiB"
                   r"(?:, peak device ([\d.]+) MiB)?")


def run_vsp_timed(cmd):
    """Runs a vsp command with --timings; returns its wall, load and generate seconds, peak RSS,
    peak device memory (None on the CPU) and per-phase figures {name: (seconds, peak RSS, device)}."""
    run = run_timed(cmd + ["--timings"])
    match = re.search(r"timings: load ([\d.]+) s, generate ([\d.]+) s", run["stderr"])
    if not match:
        sys.exit(f"benchmark: {' '.join(cmd)} printed no timings:\n{run['stderr']}")
    phases = {m.group(1): (float(m.group(2)), float(m.group(3)), float(m.group(4)) if m.group(4) else None)
              for m in PHASE.finditer(run["stderr"])}
    devices = [p[2] for p in phases.values() if p[2] is not None]
    return {"total": run["total"], "load": float(match.group(1)), "generate": float(match.group(2)),
            "peak_mib": run["peak_mib"], "device_mib": max(devices) if devices else None, "phases": phases}


def print_phases(runs):
    """vsp's per-phase medians: seconds and the process's peak RSS when the phase ended."""
    print(f"{'vsp phase':<12}{'seconds':>10}{'peak MiB':>10}{'device MiB':>12}")
    for name in runs[0]["phases"]:
        figures = [run["phases"][name] for run in runs if name in run["phases"]]
        device = [f[2] for f in figures if f[2] is not None]
        print(f"{name:<12}{statistics.median(f[0] for f in figures):>10.3f}"
              f"{statistics.median(f[1] for f in figures):>10.0f}"
              f"{(f'{statistics.median(device):.0f}' if device else '-'):>12}")


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
          f"{args.device} {args.dtype}; medians; diffusers warm generate {median(theirs, 'warm'):.3f} s")
    cuda = args.device.startswith("cuda")
    print(f"{'':10}{'total s':>10}{'load s':>10}{'generate s':>12}{'peak MiB':>10}" + (f"{'device MiB':>12}" if cuda else ""))
    for name, runs in (("vsp", ours), ("diffusers", theirs)):
        print(f"{name:10}{median(runs, 'total'):10.2f}{median(runs, 'load'):10.2f}{median(runs, 'generate'):12.3f}"
              f"{median(runs, 'peak_mib'):10.0f}" + (f"{median(runs, 'device_mib'):12.0f}" if cuda else ""))
    print(f"ratio vsp/diffusers: total {median(ours, 'total') / median(theirs, 'total'):.2f}, "
          f"generate {median(ours, 'generate') / median(theirs, 'generate'):.2f}, "
          f"generate vs diffusers warm {median(ours, 'generate') / median(theirs, 'warm'):.2f}, "
          f"peak memory {median(ours, 'peak_mib') / median(theirs, 'peak_mib'):.2f}" +
          (f", peak device memory {median(ours, 'device_mib') / median(theirs, 'device_mib'):.2f}" if cuda else ""))
    print_phases(ours)


if __name__ == "__main__":
    main()
