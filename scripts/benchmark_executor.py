#!/usr/bin/env python3
"""TorchScript executor settings against one exported module's memory and time (a benchmark, not
a test): why vsp's Model::load picks the legacy executor with graph optimisation on.

  scripts/benchmark_executor.py --model models/sdxl-structure --module unet --size 512

Each setting runs in its own process: three calls of the module at --size (the UNet with a CFG
batch of 2), printing each call's seconds and the peak RSS above the loaded module."""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = {
    "profiling (PyTorch's default)": dict(executor=True, profiling=True, optimize=True),
    "profiling mode off, optimisation off": dict(executor=True, profiling=False, optimize=False),
    "legacy, optimisation off": dict(executor=False, profiling=False, optimize=False),
    "legacy, optimised (vsp)": dict(executor=False, profiling=False, optimize=True),
}


def child(args):
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    import torch
    import vsp_export.op  # noqa: F401  (registers vsp::attention)
    setting = SETTINGS[args.setting]
    torch._C._jit_set_profiling_executor(setting["executor"])
    torch._C._jit_set_profiling_mode(setting["profiling"])
    torch._C._set_graph_executor_optimize(setting["optimize"])
    with open(os.path.join(args.model, "manifest.json")) as f:
        manifest = json.load(f)
    module = torch.jit.load(os.path.join(args.model, f"{args.module}.pt"))
    latent = args.size // manifest["vae_scale_factor"]
    channels = manifest["latent_channels"]
    if args.module == "unet":
        encoders = manifest["text_encoders"]
        inputs = (torch.randn(2, channels, latent, latent), torch.tensor(999.0),
                  torch.randn(2, 77, sum(e["hidden_size"] for e in encoders)),
                  torch.randn(2, encoders[-1]["pooled_size"]),
                  torch.tensor([[args.size, args.size, 0, 0, args.size, args.size]] * 2, dtype=torch.float32))
    else:
        inputs = (torch.randn(1, channels, latent, latent),)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = []
    with torch.inference_mode():
        for _ in range(3):
            started = time.perf_counter()
            module(*inputs)
            seconds.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    print(json.dumps({"seconds": seconds, "peak_mib": peak}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--module", default="unet", choices=["unet", "vae_decoder"])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--setting", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setting:
        return child(args)
    print(f"{args.module} at {args.size}x{args.size}: seconds of calls 1, 2, 3 and peak RSS above the loaded module")
    for name in SETTINGS:
        result = subprocess.run([sys.executable, os.path.abspath(__file__), "--model", args.model, "--module",
                                 args.module, "--size", str(args.size), "--setting", name],
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"benchmark: {name} failed:\n{result.stderr}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        calls = " ".join(f"{s:6.2f}" for s in figures["seconds"])
        print(f"{name:<40}{calls}   {figures['peak_mib']:6.0f} MiB")


if __name__ == "__main__":
    main()
