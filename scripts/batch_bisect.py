#!/usr/bin/env python3
"""Find the operations that make a row's numbers depend on the other rows of its batch.

vsp needs a row's bits not to depend on its company: --batch-size 1 and --batch-size 4, or a job
batched with others and the same job alone, must give the same images. This tool runs the UNet
(and the VAE decoder, and a ControlNet when there is one) in eager fp32 on a batch of distinct
rows with a hook on every module. Each module, as it finishes, is re-run alone on the rows it just
computed in the batch (every tensor argument sliced along dim 0) and its output compared bit for
bit with those rows of its batched output. A module that differs although it got identical
per-row inputs is row-dependent on its own; one that differs while none of its child modules
does has the culprit among its functional ops (e.g. SDPA inside Attention).

Scenarios (--scenarios), each a batched call against re-runs of a part of it:
  single      B distinct rows vs each row alone (batch of 1)
  dup         B distinct rows vs each row twice in a batch of 2 (how vsp runs a lone unguided row)
  cfg-pair    vsp's guided batch [uncond x B, cond x B] vs each (uncond_i, cond_i) pair alone:
              --batch-size B vs --batch-size 1
  cfg-single  one guided pair [uncond, cond] vs each of its rows alone

Examples (with .venv/bin/python):
  scripts/batch_bisect.py --random tiny
  scripts/batch_bisect.py --random medium --size 256 --parts unet --modules leaves --json medium.json
  scripts/batch_bisect.py --random tiny --no-row-stable-embeddings      # without the export's patch
  scripts/batch_bisect.py --ops                                          # raw-op sweep only
  ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 scripts/batch_bisect.py --random tiny --ops
  scripts/batch_bisect.py --pipeline models/sdxl-structure-diffusers --size 512 --parts unet
  scripts/batch_bisect.py --table *.json                                 # markdown rows of saved reports

Dispatch is chosen at process start by ATEN_CPU_CAPABILITY (default|avx2|avx512),
MKL_ENABLE_INSTRUCTIONS (SSE4_2|AVX2|AVX512...) and ONEDNN_MAX_CPU_ISA (SSE41|AVX|AVX2|AVX512_CORE...);
the report records them with the CPU's ISA flags. See docs/batch-bisect.md."""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# Idle OpenMP threads sleep instead of spinning: on a busy machine spinning slows the many small
# calls of this tool 5x. It changes no result (the work is split among threads the same way).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rowbisect.ops import run_ops  # noqa: E402
from rowbisect.report import environment, print_report, print_table  # noqa: E402
from rowbisect.rows import SCENARIOS  # noqa: E402
from rowbisect.runs import run_models  # noqa: E402
from vsp_export.random_models import RANDOM_SIZES  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--random", choices=RANDOM_SIZES,
                        help="build a random model (scripts/vsp_export/random_models.py)")
    source.add_argument("--pipeline", metavar="DIR",
                        help="a saved diffusers pipeline folder (e.g. export.py --save-pipeline)")
    parser.add_argument("--controlnet", metavar="DIR",
                        help="a saved ControlNetModel folder (default: DIR/controlnet_canny)")
    parser.add_argument("--parts", default="unet,vae,controlnet",
                        help="model parts to bisect, comma-separated: unet, vae, controlnet (default: all there are)")
    parser.add_argument("--scenarios", default="single,dup,cfg-pair,cfg-single",
                        help="comma-separated, of: " + "; ".join(f"{k}: {v}" for k, v in SCENARIOS.items()))
    parser.add_argument("--batch", type=int, default=4, help="B, the distinct rows (jobs) in a batch (default 4)")
    parser.add_argument("--size", type=int, help="image size in pixels (default: the model's)")
    parser.add_argument("--modules", choices=["all", "leaves"], default="all",
                        help="re-run every module (default), or only leaf modules, attention modules and the whole "
                             "model (about 3x faster; culprits are found the same unless they are functional ops "
                             "inside other containers)")
    parser.add_argument("--no-kernels", action="store_true",
                        help="do not record the oneDNN/MKL kernels behind each culprit (from their verbose output)")
    parser.add_argument("--timestep", type=float, default=999.0, help="the UNet's timestep (default 999)")
    parser.add_argument("--prompt", action="append", help="encode this prompt (repeatable; rows cycle through them) "
                        "instead of random embeddings")
    parser.add_argument("--steps", type=int, default=0,
                        help="also sample this many guided Euler steps, B jobs batched vs each alone, and compare the "
                             "uint8 images (default 0: off)")
    parser.add_argument("--no-row-stable-embeddings", action="store_true",
                        help="leave out batch_invariance.make_embeddings_row_stable (the export applies it)")
    parser.add_argument("--vae-layout", choices=["channels-last", "contiguous"], default="channels-last",
                        help="the VAE decoder's memory layout (vsp runs it channels-last)")
    parser.add_argument("--ops", action="store_true", help="also sweep the raw ops (linear, conv2d, norms, softmax, "
                        "SDPA, vsp::attention, baddbmm/bmm): row i in a batch vs alone")
    parser.add_argument("--ops-scale", choices=["small", "medium", "large"], default="medium",
                        help="op shapes: small (under 1 min on 2 cores), medium (default, 1-2 min), large (adds "
                             "SDXL's 4096x4096-token self-attention: about 7 min)")
    parser.add_argument("--ops-batches", default="2,4,8", help="batch sizes for --ops (default 2,4,8)")
    parser.add_argument("--ops-filter", action="append", help="only op cases whose 'op shape' text contains this")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--no-mkldnn", action="store_true", help="torch.backends.mkldnn.enabled = False "
                        "(convolutions without oneDNN)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--all", action="store_true", help="list row-stable module shapes too")
    parser.add_argument("--json", metavar="FILE", help="write the report as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--table", nargs="+", metavar="JSON", help="print a markdown table of earlier --json reports "
                        "and exit")
    args = parser.parse_args()
    if args.table:
        print_table(args.table)
        return
    args.parts = [p for p in args.parts.split(",") if p]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.ops_batches = [int(b) for b in args.ops_batches.split(",") if b]
    for s in args.scenarios:
        if s not in SCENARIOS:
            parser.error(f"unknown scenario '{s}'; choose from {', '.join(SCENARIOS)}")
    for p in args.parts:
        if p not in ("unet", "vae", "controlnet"):
            parser.error(f"unknown part '{p}'; choose from unet, vae, controlnet")
    if not (args.random or args.pipeline or args.ops):
        parser.error("give a model (--random SIZE or --pipeline DIR), --ops, or both")
    if args.batch < 2:
        parser.error("--batch must be at least 2")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    started = time.time()
    report = {"environment": environment(), "args": {k: v for k, v in vars(args).items()}}
    log(f"[bisect] torch {torch.__version__}, capability {report['environment']['cpu_capability']}, "
        f"{torch.get_num_threads()} threads, env {report['environment']['env']}")
    if args.random or args.pipeline:
        report["models"] = run_models(args, log)
    if args.ops:
        report["ops"] = run_ops(args, log)
    report["seconds"] = round(time.time() - started, 1)
    print_report(report, args.all)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=str)
        log(f"[bisect] wrote {args.json}")


if __name__ == "__main__":
    main()

