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
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsp_export.batch_invariance import RowwiseLinear, make_embeddings_row_stable  # noqa: E402
from vsp_export.op import install_processors  # noqa: E402  (registers vsp::attention)
from vsp_export.random_models import RANDOM_SIZES  # noqa: E402
from vsp_export.trace import ControlNet, UNet, UNetWithAddedConditioning, VaeDecoder, residual_shapes  # noqa: E402

SCENARIOS = {
    "single": "B distinct rows vs each row alone (batch 1)",
    "dup": "B distinct rows vs each row twice in a batch of 2",
    "cfg-pair": "guided [uncond x B, cond x B] vs each (uncond_i, cond_i) pair alone",
    "cfg-single": "one guided pair [uncond, cond] vs each row alone",
}
ENV_VARS = ["ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "KMP_AFFINITY"]


# --------------------------------------------------------------------------------------------
# Slicing a module's arguments by rows, and comparing outputs.

def row_chunk(t, n):
    """k when tensor t holds n rows batch-major along dim 0 (dim 0 == k * n: [B, ...] has k = 1,
    time_ids.flatten() k = 6), else None (a 0-dim or shared tensor, passed whole)."""
    if not isinstance(t, torch.Tensor) or t.dim() == 0 or t.shape[0] == 0 or t.shape[0] % n:
        return None
    return t.shape[0] // n


def take_rows(t, rows, n):
    """Rows `rows` of t (n rows in dim 0) as a fresh tensor with t's stride layout, as a batch of
    len(rows) computed on its own would have it (fresh, aligned storage; not a view into t)."""
    k = row_chunk(t, n)
    if k is None:
        return t
    src = t.narrow(0, 0, len(rows) * k)
    out = torch.empty_like(src)  # keeps the strides of a dense layout (e.g. channels-last, transposed views)
    for j, r in enumerate(rows):
        out.narrow(0, j * k, k).copy_(t.narrow(0, r * k, k))
    return out


def map_tensors(obj, fn):
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(map_tensors(v, fn) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_tensors(v, fn) for v in obj)
    if isinstance(obj, dict):
        mapped = {k: map_tensors(v, fn) for k, v in obj.items()}
        try:
            return type(obj)(**mapped) if type(obj) is not dict else mapped
        except TypeError:
            return mapped
    return obj


def flat_tensors(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in flat_tensors(v)]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in flat_tensors(v)]
    return []


def max_abs(a, b):
    if a.dtype.is_floating_point or a.dtype.is_complex:
        return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
    return float((a.long() - b.long()).abs().max()) if a.numel() else 0.0


# --------------------------------------------------------------------------------------------
# Which library kernels a call ran: oneDNN's and MKL's verbose lines, caught from stdout.

def capture_kernels(fn):
    """The oneDNN primitives (implementation and problem) and MKL functions (with their sizes)
    that fn() runs, in order without repeats; [] when neither library is called (ATen's own kernels)."""
    import ctypes
    import re
    import tempfile
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(1)
        os.dup2(tmp.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON), \
                    torch.backends.mkl.verbose(torch.backends.mkl.VERBOSE_ON):
                fn()
        finally:
            libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    found = []
    for line in text.splitlines():
        m = re.search(r"exec,cpu,(\w+),([^,]+),[^,]*,[^,]*,[^,]*,[^,]*,([^,]+),", line)
        if m and m.group(1) != "reorder":
            found.append(f"oneDNN {m.group(1)} {m.group(2)} {m.group(3)}")
            continue
        m = re.match(r"MKL_VERBOSE (\w+)\(([^)]*)\)", line)
        if m and not line.startswith("MKL_VERBOSE oneMKL"):
            sizes = [a for a in m.group(2).split(",") if not a.startswith("0x")]
            found.append(f"MKL {m.group(1)}({','.join(sizes[:5])})")
    return list(dict.fromkeys(found))


# --------------------------------------------------------------------------------------------
# Describing a module call by class and shape (per row).

def first_tensor(args, kwargs, *names):
    for name in names:
        if isinstance(kwargs.get(name), torch.Tensor):
            return kwargs[name]
    for a in args:
        if isinstance(a, torch.Tensor):
            return a
    for v in kwargs.values():
        if isinstance(v, torch.Tensor):
            return v
    return None


def describe(module, args, kwargs, n):
    """(class name, shape text) of one call, shapes per row (the batch left out)."""
    cls = type(module).__name__
    x = first_tensor(args, kwargs, "hidden_states", "sample", "input")
    if x is None:
        return cls, "-"
    k = row_chunk(x, n) or 1
    if isinstance(module, (torch.nn.Linear, RowwiseLinear)):
        n_out, n_in = module.weight.shape
        tokens = x.numel() // n_in // n
        kind = " bmm" if isinstance(module, RowwiseLinear) else ""
        return cls, f"K={n_in} N={n_out} M={tokens * n} ({tokens}/row){kind}"
    if isinstance(module, torch.nn.Conv2d):
        extra = f" groups={module.groups}" if module.groups != 1 else ""
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            extra += " channels-last"
        return cls, (f"{module.in_channels}->{module.out_channels} k{module.kernel_size[0]}x{module.kernel_size[1]} "
                     f"s{module.stride[0]} in {x.shape[-2]}x{x.shape[-1]}{extra}")
    if isinstance(module, torch.nn.GroupNorm):
        return cls, f"G={module.num_groups} C={module.num_channels} in {tuple(x.shape[2:]) if x.dim() > 2 else '-'}"
    if isinstance(module, torch.nn.LayerNorm):
        c = module.normalized_shape[-1]
        return cls, f"C={c} T={x.numel() // c // n}"
    if cls == "Attention" and hasattr(module, "heads"):
        q = x.shape[1] if x.dim() == 3 else x.shape[2] * x.shape[3]
        ctx = kwargs.get("encoder_hidden_states")
        if ctx is None and len(args) > 1 and isinstance(args[1], torch.Tensor):
            ctx = args[1]
        kv = q if ctx is None else ctx.shape[1]
        kind = "self" if ctx is None else "cross"
        return cls, f"{kind} h={module.heads} d={module.inner_dim // module.heads} q={q} kv={kv}"
    shape = list(x.shape[1:])
    return cls, f"in {[k] + shape if k > 1 else shape}"


# --------------------------------------------------------------------------------------------
# The hooks.

class Bisector:
    """Hooks every module of root. During one batched call (n rows), each module's call is re-run
    on each group of rows (dup: a one-row group run twice in a batch of 2) and compared with its
    rows of the batched output."""

    def __init__(self, root, modules="all", kernels=True):
        self.root, self.kernels = root, kernels
        # "leaves": re-run only modules without children, attention modules (SDPA is functional,
        # inside them) and the root (end to end): about 3x a batched call instead of 8x.
        self.rerun = {m for m in root.modules()
                      if modules == "all" or m is root or not any(True for _ in m.children())
                      or type(m).__name__ == "Attention"}
        self.active = False
        self.stack = []
        self.records = []
        self.names = {m: name for name, m in root.named_modules()}
        self.handles = []
        for m in root.modules():
            self.handles.append(m.register_forward_pre_hook(self._pre, with_kwargs=True))
            self.handles.append(m.register_forward_hook(self._post, with_kwargs=True))

    def remove(self):
        for h in self.handles:
            h.remove()

    def run(self, call, n, groups, dup):
        self.n, self.groups, self.dup = n, groups, dup
        self.records, self.stack = [], []
        self.active = True
        try:
            out = call()
        finally:
            self.active = False
        return out, self.records

    def _pre(self, module, args, kwargs):
        if not self.active:
            return None
        if module not in self.rerun:
            self.stack.append({"skip": True, "child_differs": False})
            return None
        clone = lambda t: t.clone()  # noqa: E731  (a module may write into its inputs)
        self.stack.append({"args": map_tensors(args, clone), "kwargs": map_tensors(kwargs, clone),
                           "child_differs": False})
        return None

    def _post(self, module, args, kwargs, output):
        if not self.active:
            return None
        frame = self.stack.pop()
        if frame.get("skip"):  # not re-run: pass a differing descendant on to the parent
            if self.stack and frame["child_differs"]:
                self.stack[-1]["child_differs"] = True
            return None
        args, kwargs, n = frame["args"], frame["kwargs"], self.n
        cls, shape = describe(module, args, kwargs, n)
        rec = {"name": self.names.get(module, "?") or "<root>", "class": cls, "shape": shape, "exact": True,
               "max_diff": 0.0, "compared": False, "child_differs": frame["child_differs"], "note": ""}
        self.active = False
        try:
            outs = flat_tensors(output)
            for group in self.groups:
                run_rows = group * 2 if (self.dup and len(group) == 1) else group
                sub = lambda t: take_rows(t, run_rows, n)  # noqa: E731,B023
                alone = flat_tensors(module(*map_tensors(args, sub), **map_tensors(kwargs, sub)))
                if len(alone) != len(outs):
                    rec["note"] = "output structure differs alone"
                    break
                for full, mine in zip(outs, alone):
                    k = row_chunk(full, n)
                    if k is None or row_chunk(mine, len(run_rows)) != k:
                        continue  # not a batched output
                    want = take_rows(full, group, n)
                    got = mine.narrow(0, 0, len(group) * k)
                    if got.shape != want.shape:
                        rec["note"] = "shape differs alone"
                        continue
                    rec["compared"] = True
                    if not torch.equal(got, want):
                        rec["exact"] = False
                        rec["max_diff"] = max(rec["max_diff"], max_abs(got, want))
            if not rec["exact"]:
                # A re-run of the whole batch tells batch dependence from run-to-run nondeterminism.
                again = flat_tensors(module(*args, **kwargs))
                rec["nondeterministic"] = any(not torch.equal(a, b) for a, b in zip(again, outs))
        finally:
            self.active = True
        rec["own"] = not rec["exact"] and not rec["child_differs"]
        if rec["own"] and self.kernels and not any(True for _ in module.children()):
            # The kernels behind a culprit: its batched call against its first group's call.
            self.active = False
            try:
                group = self.groups[0]
                run_rows = group * 2 if (self.dup and len(group) == 1) else group
                sub = lambda t: take_rows(t, run_rows, n)  # noqa: E731
                rec["kernels"] = {"batch": capture_kernels(lambda: module(*args, **kwargs)),
                                  "alone": capture_kernels(lambda: module(*map_tensors(args, sub),
                                                                          **map_tensors(kwargs, sub)))}
            finally:
                self.active = True
        if self.stack and not rec["exact"]:
            self.stack[-1]["child_differs"] = True
        self.records.append(rec)
        return None


def summarize(records):
    """Groups by (class, shape): calls, differing calls, own (no differing child), max diff."""
    groups = {}
    for r in records:
        if r["name"] == "<root>" or not r["compared"]:
            continue
        g = groups.setdefault((r["class"], r["shape"]), {"class": r["class"], "shape": r["shape"], "calls": 0,
                                                         "differ": 0, "own": 0, "max_diff": 0.0, "example": None})
        g["calls"] += 1
        if not r["exact"]:
            g["differ"] += 1
            g["own"] += r["own"]
            g["max_diff"] = max(g["max_diff"], r["max_diff"])
            if g["example"] is None:
                g["example"] = r["name"]
                g["kernels"] = r.get("kernels")
    by_class = {}
    for g in groups.values():
        c = by_class.setdefault(g["class"], {"calls": 0, "differ": 0, "own": 0, "max_diff": 0.0})
        for key in ("calls", "differ", "own"):
            c[key] += g[key]
        c["max_diff"] = max(c["max_diff"], g["max_diff"])
    return sorted(groups.values(), key=lambda g: (-g["differ"], g["class"], g["shape"])), by_class


# --------------------------------------------------------------------------------------------
# Models and inputs.

def load_model(args):
    """(pipeline, family, name, controlnet or None)."""
    from diffusers import StableDiffusionXLPipeline
    if args.random:
        from vsp_export.random_models import build_random_controlnets, build_random_pipeline, random_family
        pipe = build_random_pipeline(args.random)
        family = random_family(args.random)
        controlnet = None
        if "controlnet" in args.parts and args.random in ("tiny", "medium"):
            controlnet = build_random_controlnets(pipe.unet, ["canny"])["canny"]
        return pipe, family, f"random-{args.random}", controlnet
    from diffusers import ControlNetModel, DiffusionPipeline
    pipe = DiffusionPipeline.from_pretrained(args.pipeline, torch_dtype=torch.float32)
    family = "sdxl" if isinstance(pipe, StableDiffusionXLPipeline) else "sd"
    controlnet = None
    folder = args.controlnet or os.path.join(args.pipeline, "controlnet_canny")
    if "controlnet" in args.parts and family == "sdxl" and os.path.isdir(folder):
        controlnet = ControlNetModel.from_pretrained(folder, torch_dtype=torch.float32).eval()
    return pipe, family, args.pipeline, controlnet


class Inputs:
    """Distinct per-row conditioning for up to `rows` images, and a shared unconditional one."""

    def __init__(self, pipe, sdxl, rows, size, latent, seed, prompts):
        g = torch.Generator().manual_seed(seed)
        unet = pipe.unet
        self.sdxl, self.latent, self.channels = sdxl, latent, unet.config.in_channels
        self.latents = torch.randn(rows, self.channels, latent, latent, generator=g)
        ctx = unet.config.cross_attention_dim
        if prompts:
            texts = [prompts[i % len(prompts)] for i in range(rows)]
            if sdxl:
                e, ne, p, npool = pipe.encode_prompt(texts, device="cpu", num_images_per_prompt=1,
                                                     do_classifier_free_guidance=True)
                self.embeds, self.pooled, self.uncond, self.uncond_pooled = e, p, ne[:1], npool[:1]
            else:
                e, ne = pipe.encode_prompt(texts, "cpu", 1, True)
                self.embeds, self.uncond = e, ne[:1]
        else:
            self.embeds = torch.randn(rows, 77, ctx, generator=g)
            if sdxl:  # force_zeros_for_empty_prompt: SDXL's unconditional embeddings are zeros
                self.uncond = torch.zeros(1, 77, ctx)
            else:
                self.uncond = torch.randn(1, 77, ctx, generator=g)
            if sdxl:
                pooled = pipe.text_encoder_2.config.projection_dim
                self.pooled = torch.randn(rows, pooled, generator=g)
                self.uncond_pooled = torch.zeros(1, pooled)
        if sdxl:
            self.time_ids = torch.tensor([[size, size, 0, 0, size, size]], dtype=torch.float32)
        self.control = torch.rand(rows, 3, size, size, generator=g)
        scale = pipe.vae.config.scaling_factor
        self.vae_latents = torch.randn(rows, pipe.vae.config.latent_channels, latent, latent, generator=g) / scale

    def unet_args(self, rows, guided):
        """(sample, embeds, pooled, time_ids, control) for `rows` images; guided: [uncond x n, cond x n]."""
        sample = self.latents[:rows]
        embeds = self.embeds[:rows]
        pooled = self.pooled[:rows] if self.sdxl else None
        if guided:
            sample = torch.cat([sample, sample])
            embeds = torch.cat([self.uncond.expand(rows, -1, -1), embeds])
            if self.sdxl:
                pooled = torch.cat([self.uncond_pooled.expand(rows, -1), pooled])
        n = sample.shape[0]
        time_ids = self.time_ids.expand(n, -1).contiguous() if self.sdxl else None
        control = self.control[:rows]
        control = torch.cat([control, control]) if guided else control
        return sample.contiguous(), embeds.contiguous(), (pooled.contiguous() if self.sdxl else None), time_ids, control


def scenario_layout(name, batch):
    """(rows of images, guided, groups of batch rows re-run together, dup)."""
    if name == "single":
        return batch, False, [[i] for i in range(batch)], False
    if name == "dup":
        return batch, False, [[i] for i in range(batch)], True
    if name == "cfg-pair":
        return batch, True, [[i, batch + i] for i in range(batch)], False
    if name == "cfg-single":
        return 1, True, [[0], [1]], False
    raise ValueError(name)


def to_uint8(image):
    return ((image / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)


# --------------------------------------------------------------------------------------------
# Model parts.

def unet_call(wrapper, sdxl, residuals_for, timestep, sample, embeds, pooled, time_ids):
    down, mid = residuals_for(sample.shape[0])
    if sdxl:
        return wrapper(sample, timestep, embeds, pooled, time_ids, down, mid)
    return wrapper(sample, timestep, embeds, down, mid)


def bisect_part(part, root, call_for, scenarios, args, log):
    """{scenario: {groups, classes, end_to_end, records, seconds}} for one model part."""
    bis = Bisector(root, args.modules, not args.no_kernels)
    batch = args.batch
    results = {}
    try:
        for name in scenarios:
            rows, guided, groups, dup = scenario_layout(name, batch)
            n = rows * 2 if guided else rows
            started = time.time()
            _, records = bis.run(lambda: call_for(rows, guided), n, groups, dup)
            root_rec = next(r for r in records if r["name"] == "<root>")
            table, classes = summarize(records)
            results[name] = {"description": SCENARIOS[name], "rows": n, "groups": table, "classes": classes,
                             "end_to_end": {"exact": root_rec["exact"], "max_diff": root_rec["max_diff"]},
                             "records": [r for r in records if not r["exact"]],
                             "module_calls": len(records), "seconds": round(time.time() - started, 2)}
            log(f"[bisect] {part} {name}: {len(records)} module calls, "
                f"{sum(1 for r in records if not r['exact'])} differ, end to end "
                f"{_state(root_rec['exact'], root_rec['max_diff'])} "
                f"({time.time() - started:.1f}s)")
    finally:
        bis.remove()
    return results


def sample_images(args, pipe, sdxl, wrapper, residuals_for, inputs, size, log):
    """vsp's guided sampling, --steps Euler steps at guidance 5: B jobs batched ([uncond x B,
    cond x B] per UNet call) vs each job alone; each image decoded alone, as vsp does."""
    from diffusers import EulerDiscreteScheduler
    config = dict(pipe.scheduler.config)
    vae = pipe.vae
    scale = vae.config.scaling_factor

    def run(jobs):
        sched = EulerDiscreteScheduler.from_config(config)
        sched.set_timesteps(args.steps)
        lat = inputs.latents[jobs] * sched.init_noise_sigma
        emb = torch.cat([inputs.uncond.expand(len(jobs), -1, -1), inputs.embeds[jobs]])
        pooled = torch.cat([inputs.uncond_pooled.expand(len(jobs), -1), inputs.pooled[jobs]]) if sdxl else None
        time_ids = inputs.time_ids.expand(2 * len(jobs), -1).contiguous() if sdxl else None
        for t in sched.timesteps:
            x = sched.scale_model_input(torch.cat([lat, lat]), t)
            eps = unet_call(wrapper, sdxl, residuals_for, torch.tensor(float(t)), x, emb, pooled, time_ids)
            u, c = eps.chunk(2)
            lat = sched.step(u + 5.0 * (c - u), t, lat).prev_sample
        return lat

    started = time.time()
    together = run(list(range(args.batch)))
    alone = torch.cat([run([i]) for i in range(args.batch)])

    def decode(lat):
        x = (lat / scale).contiguous(memory_format=torch.channels_last)
        return to_uint8(vae.decode(x, return_dict=False)[0])

    img_together = torch.cat([decode(together[i:i + 1]) for i in range(args.batch)])
    img_alone = torch.cat([decode(alone[i:i + 1]) for i in range(args.batch)])
    differing = (img_together != img_alone).any(dim=1)  # pixels
    res = {"steps": args.steps, "jobs": args.batch, "latents_exact": bool(torch.equal(together, alone)),
           "latents_max_diff": max_abs(together, alone),
           "images_differing": int(differing.flatten(1).any(1).sum()),
           "pixels_differing": int(differing.sum()), "pixels_total": int(differing.numel()),
           "max_level_diff": int((img_together.int() - img_alone.int()).abs().max()),
           "seconds": round(time.time() - started, 2)}
    log(f"[bisect] sampling {args.steps} steps, {args.batch} jobs batched vs alone: latents "
        f"{_state(res['latents_exact'], res['latents_max_diff'])}, "
        f"{res['pixels_differing']} pixels differ in {res['images_differing']} images "
        f"(max {res['max_level_diff']}/255) ({res['seconds']}s)")
    return res


def run_models(args, log):
    torch.manual_seed(args.seed)
    pipe, family, name, controlnet = load_model(args)
    sdxl = family == "sdxl"
    unet = pipe.unet.eval()
    vae_scale = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    size = args.size or unet.config.sample_size * vae_scale
    multiple = vae_scale * 2 ** (len(unet.config.block_out_channels) - 1)
    if size % multiple:
        sys.exit(f"error: --size {size} must be a multiple of {multiple}")
    latent = size // vae_scale
    # What scripts/export.py traces: the row-stable embeddings patch, vsp::attention processors.
    if not args.no_row_stable_embeddings:
        make_embeddings_row_stable(unet)
        if controlnet is not None:
            make_embeddings_row_stable(controlnet)
    if "vae" in args.parts and args.vae_layout == "channels-last":  # as vsp runs the decoder (src/models/model.cpp)
        for p in pipe.vae.parameters():
            if p.dim() == 4:
                p.data = p.data.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():  # as vsp calls its modules
        return _run_models(args, pipe, family, name, controlnet, sdxl, unet, size, latent, log)


def _run_models(args, pipe, family, name, controlnet, sdxl, unet, size, latent, log):
    inputs = Inputs(pipe, sdxl, args.batch, size, latent, args.seed + 1, args.prompt)
    wrapper = (UNetWithAddedConditioning if sdxl else UNet)(unet).eval()
    down_shapes, mid_shape = residual_shapes(unet)

    def residuals_for(n):
        res = lambda c, lv: torch.zeros(n, c, latent >> lv, latent >> lv)  # noqa: E731
        return tuple(res(*s) for s in down_shapes), res(*mid_shape)

    t = torch.tensor(float(args.timestep))

    def unet_for(n, guided):
        sample, embeds, pooled, time_ids, _ = inputs.unet_args(n, guided)
        return unet_call(wrapper, sdxl, residuals_for, t, sample, embeds, pooled, time_ids)

    sample0, emb0, pooled0, ids0, _ = inputs.unet_args(1, True)
    install_processors(unet, lambda: unet_call(wrapper, sdxl, residuals_for, t, sample0, emb0, pooled0, ids0))
    report = {"model": name, "family": family, "size": size, "latent": latent, "timestep": args.timestep,
              "row_stable_embeddings": not args.no_row_stable_embeddings, "parts": {}}
    log(f"[bisect] {name} ({family}) at {size}x{size} (latent {latent}x{latent}), batch {args.batch}, "
        f"timestep {args.timestep}, row-stable embeddings {'off' if args.no_row_stable_embeddings else 'on'}")

    if "unet" in args.parts:
        report["parts"]["unet"] = bisect_part("unet", wrapper, unet_for, args.scenarios, args, log)
    if "controlnet" in args.parts and controlnet is not None and sdxl:
        cn = ControlNet(controlnet.eval()).eval()

        def cn_for(n, guided):
            sample, embeds, pooled, time_ids, control = inputs.unet_args(n, guided)
            return cn(sample, t, embeds, pooled, time_ids, control)
        report["parts"]["controlnet"] = bisect_part("controlnet", cn, cn_for, args.scenarios, args, log)
    if "vae" in args.parts:
        vae = pipe.vae.eval()
        dec = VaeDecoder(vae).eval()
        fmt = torch.channels_last if args.vae_layout == "channels-last" else torch.contiguous_format

        def vae_for(n, guided):
            return dec(inputs.vae_latents[:n].contiguous(memory_format=fmt))
        scenarios = [s for s in args.scenarios if not s.startswith("cfg")]
        report["parts"]["vae"] = bisect_part("vae", dec, vae_for, scenarios, args, log)
        # The image as vsp writes it: uint8 pixels, row i alone vs in the batch.
        together = to_uint8(dec(inputs.vae_latents[:args.batch].contiguous(memory_format=fmt)))
        alone = torch.cat([to_uint8(dec(inputs.vae_latents[i:i + 1].contiguous(memory_format=fmt)))
                           for i in range(args.batch)])
        diff = (together != alone).any(1)
        report["parts"]["vae"]["image_uint8"] = {"pixels_differing": int(diff.sum()), "pixels_total": int(diff.numel()),
                                                 "max_level_diff": int((together.int() - alone.int()).abs().max())}
    if args.steps > 0:
        report["sampling"] = sample_images(args, pipe, sdxl, wrapper, residuals_for, inputs, size, log)
    return report


# --------------------------------------------------------------------------------------------
# The raw-op sweep.

def op_cases(scale):
    """(name, shape text, per-row tensor shapes, fn(batched tensors..., weights) -> [B, ...], weights)."""
    g = torch.Generator().manual_seed(7)
    rnd = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    cases = []
    # Per-image linears (time/add embeddings, time_emb_proj: M = batch) and token linears (M = batch * T).
    per_image = [(320, 1280), (1280, 1280), (2816, 1280), (1280, 320), (1280, 640)]
    # Few tokens per row (a low-resolution level: SD 1.x's mid block at a 64-pixel image has 1x1
    # tokens) make M = batch * T small, where a GEMM picks its kernel by M as for M = batch.
    tokens = [(1, 64, 64), (1, 64, 512), (4, 64, 64), (16, 320, 320), (64, 640, 640), (77, 2048, 640),
              (77, 2048, 1280), (64, 64, 64), (256, 512, 512), (1024, 256, 256),
              (1024, 640, 640), (1024, 640, 2560 * 2), (1024, 2560, 640), (1024, 1280, 1280), (4096, 320, 320),
              (4096, 640, 640)]
    if scale == "small":
        per_image, tokens = per_image[:3], [t for t in tokens if t[0] * t[1] * t[2] <= 1024 * 640 * 640]
    for k, n in per_image:
        w, b = rnd(n, k) * k ** -0.5, rnd(n)
        cases.append(("linear M=B", f"[B,{k}] x {k}->{n}", [(k,)], lambda x, w=w, b=b: F.linear(x, w, b)))
        rl = RowwiseLinear(torch.nn.Linear(k, n))
        rl.weight, rl.bias = torch.nn.Parameter(w), torch.nn.Parameter(b)
        cases.append(("RowwiseLinear bmm", f"[B,{k}] x {k}->{n} (the patch)", [(k,)], lambda x, m=rl: m(x)))
    for t, k, n in tokens:
        w, b = rnd(n, k) * k ** -0.5, rnd(n)
        cases.append(("linear M=B*T", f"[B,{t},{k}] x {k}->{n} (T={t})", [(t, k)],
                      lambda x, w=w, b=b: F.linear(x, w, b)))
        if t in (1, 4, 77, 1024) and k * n <= 640 * 640:
            # RowwiseLinear's form for token inputs: one [T, K] x [K, N] product per row.
            cases.append(("bmm per row (M=T)", f"[B,{t},{k}] x {k}->{n} (T={t})", [(t, k)],
                          lambda x, w=w, b=b: torch.bmm(x, w.t().unsqueeze(0).expand(x.shape[0], -1, -1)) + b))
    convs = [(4, 128, 3, 1, 64, False), (128, 128, 3, 1, 64, False), (128, 128, 3, 2, 64, False),
             (128, 256, 1, 1, 32, False), (256, 256, 3, 1, 32, False), (512, 512, 3, 1, 16, False),
             (320, 320, 3, 1, 64, False), (640, 640, 3, 1, 32, False), (1280, 1280, 3, 1, 16, False),
             (4, 4, 1, 1, 64, True), (256, 256, 3, 1, 64, True), (128, 128, 3, 1, 128, True), (128, 3, 3, 1, 128, True),
             (32, 32, 3, 1, 8, False), (64, 64, 3, 1, 4, False)]
    if scale == "small":
        convs = [c for c in convs if c[0] * c[1] * c[4] ** 2 <= 256 * 256 * 32 * 32]
    for cin, cout, ks, stride, hw, cl in convs:
        w, b = rnd(cout, cin, ks, ks) * (cin * ks * ks) ** -0.5, rnd(cout)
        if cl:
            w = w.contiguous(memory_format=torch.channels_last)

        def conv(x, w=w, b=b, stride=stride, pad=ks // 2, cl=cl):
            x = x.contiguous(memory_format=torch.channels_last) if cl else x
            return F.conv2d(x, w, b, stride, pad)
        cases.append(("conv2d", f"{cin}->{cout} k{ks} s{stride} {hw}x{hw}{' channels-last' if cl else ''}",
                      [(cin, hw, hw)], conv))
    for c, groups, hw in [(32, 16, 8), (128, 32, 64), (256, 32, 32), (320, 32, 64), (640, 32, 32), (1280, 32, 16),
                          (128, 32, 128)]:
        w, b = rnd(c), rnd(c)
        cases.append(("group_norm", f"G={groups} C={c} {hw}x{hw}", [(c, hw, hw)],
                      lambda x, groups=groups, w=w, b=b: F.group_norm(x, groups, w, b, 1e-5)))
    for t, c in [(64, 64), (1024, 256), (1024, 640), (4096, 320), (256, 1280)]:
        w, b = rnd(c), rnd(c)
        cases.append(("layer_norm", f"T={t} C={c}", [(t, c)], lambda x, c=c, w=w, b=b: F.layer_norm(x, (c,), w, b)))
    attn = [(2, 64, 64, 16), (2, 64, 77, 16), (4, 1024, 1024, 64), (4, 1024, 77, 64), (5, 4096, 77, 64),
            (10, 1024, 1024, 64), (10, 1024, 77, 64), (20, 256, 256, 64), (5, 4096, 4096, 64)]
    if scale != "large":
        attn = [a for a in attn if a[0] * a[1] * a[2] <= (4 if scale == "small" else 10) * 1024 * 1024]
    for h, tq, tk, d in attn:
        shapes = [(h, tq, d), (h, tk, d), (h, tk, d)]
        cases.append(("sdpa", f"h={h} q={tq} kv={tk} d={d}", shapes,
                      lambda q, k, v: F.scaled_dot_product_attention(q, k, v)))
        cases.append(("vsp::attention", f"h={h} q={tq} kv={tk} d={d}", shapes,
                      lambda q, k, v: torch.ops.vsp.attention(q, k, v, 0)))

        def classic(q, k, v, h=h, d=d):
            b = q.shape[0]
            q3, k3, v3 = (x.reshape(b * h, x.shape[2], d) for x in (q, k, v))
            s = torch.baddbmm(torch.empty(q3.shape[0], q3.shape[1], k3.shape[1]), q3, k3.transpose(1, 2),
                              beta=0, alpha=d ** -0.5)
            return torch.bmm(s.softmax(-1), v3).reshape(b, h, -1, d)
        cases.append(("baddbmm+softmax+bmm", f"[B*{h},{tq},{d}] kv={tk}", shapes, classic))
        if scale == "large" or h * tq * tk <= 1024 * 1024:  # as src/attention/attention_maps.cpp
            cases.append(("matmul+softmax", f"h={h} q={tq} kv={tk} d={d}", shapes[:2],
                          lambda q, k, d=d: torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * d ** -0.5, -1)))
    for h, tq, tk in [(4, 1024, 1024), (10, 4096, 77)]:
        cases.append(("softmax", f"[B,{h},{tq},{tk}]", [(h, tq, tk)], lambda x: torch.softmax(x, -1)))
    cases.append(("interpolate", "nearest x2 256 16x16", [(256, 16, 16)],
                  lambda x: F.interpolate(x, scale_factor=2.0, mode="nearest")))
    return cases


def run_ops(args, log):
    batches = args.ops_batches
    results = []
    started = time.time()
    for op, shape, row_shapes, fn in op_cases(args.ops_scale):
        if args.ops_filter and not any(f in f"{op} {shape}" for f in args.ops_filter):
            continue
        t0 = time.time()
        g = torch.Generator().manual_seed(11)
        top = max(batches)
        data = [torch.randn(top, *s, generator=g) for s in row_shapes]  # row r is the same in every batch
        with torch.inference_mode():
            alone = [fn(*[x[i:i + 1].clone() for x in data]) for i in range(top)]
            dup = [fn(*[torch.cat([x[i:i + 1], x[i:i + 1]]) for x in data])[:1] for i in range(top)]
            entry = {"op": op, "shape": shape, "vs_alone": {}, "vs_dup": {}}
            for b in batches:
                out = fn(*[x[:b].clone() for x in data])
                if b == top:  # the same call again: run-to-run nondeterminism would show here
                    entry["nondeterministic"] = not torch.equal(out, fn(*[x[:b].clone() for x in data]))
                for key, ref in (("vs_alone", alone), ("vs_dup", dup)):
                    diffs = [max_abs(out[i:i + 1], ref[i]) for i in range(b)]
                    entry[key][b] = max(diffs)
        entry["seconds"] = round(time.time() - t0, 2)
        results.append(entry)
        cells = " ".join(f"B{b}:{_fmt(entry['vs_alone'][b])}/{_fmt(entry['vs_dup'][b])}" for b in batches)
        log(f"[ops] {op:20s} {shape:38s} {cells}{' NONDETERMINISTIC' if entry['nondeterministic'] else ''}")
    log(f"[ops] {len(results)} cases in {time.time() - started:.1f}s")
    return results


def _state(exact, diff):
    return "bit-exact" if exact else f"max |diff| {diff:.3g}"


def _fmt(x):
    return "0" if x == 0 else f"{x:.1e}"


# --------------------------------------------------------------------------------------------
# Reporting.

def environment():
    flags = set()
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    config = torch.__config__.show()
    libs = [line.strip() for line in config.splitlines()
            if "Math Kernel" in line or "oneDNN" in line or "OpenMP" in line or "CPU capability" in line]
    return {"torch": torch.__version__, "cpu": model,
            "isa_flags": sorted(f for f in flags if f.startswith(("avx", "amx", "fma", "sse4"))),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
            "mkldnn_enabled": torch.backends.mkldnn.enabled,
            "env": {k: os.environ[k] for k in ENV_VARS if k in os.environ},
            "libraries": libs}


def print_report(report, show_all):
    env = report["environment"]
    print(f"\n== environment: torch {env['torch']}, {env['cpu']}, capability {env['cpu_capability']}, "
          f"{env['threads']} threads, mkldnn {'on' if env['mkldnn_enabled'] else 'off'}, "
          f"env {env['env'] or '{}'}")
    print(f"   ISA: {' '.join(env['isa_flags'])}")
    models = report.get("models")
    if models:
        for part, scenarios in models["parts"].items():
            for name, res in scenarios.items():
                if not isinstance(res, dict) or "groups" not in res:
                    continue
                e2e = res["end_to_end"]
                print(f"\n== {part} / {name}: {res['description']} "
                      f"({res['rows']} rows, {res['module_calls']} module calls re-run)")
                print(f"   end to end: {_state(e2e['exact'], e2e['max_diff'])}")
                # Culprits: calls that differ while none of their child modules does. Containers that
                # differ only through a child are summed up per class below (--all lists them).
                shown = res["groups"] if show_all else [g for g in res["groups"] if g["own"]]
                if shown:
                    print("   culprits (differ with identical per-row inputs, no differing child module):"
                          if not show_all else "   all module shapes:")
                    print(f"   {'class':16s} {'shape (per row)':46s} {'calls':>5s} {'differ':>6s} {'own':>4s} "
                          f"{'max diff':>9s}  e.g.")
                    for g in shown:
                        print(f"   {g['class']:16s} {g['shape']:46s} {g['calls']:5d} {g['differ']:6d} {g['own']:4d} "
                              f"{_fmt(g['max_diff']):>9s}  {g['example'] or ''}")
                        k = g.get("kernels")
                        if k and g["own"]:
                            print(f"{'':20s}kernels in the batch: {'; '.join(k['batch']) or 'ATen (no oneDNN/MKL)'}")
                            print(f"{'':20s}kernels alone:        {'; '.join(k['alone']) or 'ATen (no oneDNN/MKL)'}")
                if not e2e["exact"] and not any(g["own"] for g in res["groups"]):
                    print("   no culprit among the re-run modules: rerun with --modules all")
                exact_classes = sorted(c for c, v in res["classes"].items() if not v["differ"])
                print(f"   row-stable classes: {', '.join(exact_classes) or '-'}")
                bad = {c: v for c, v in res["classes"].items() if v["own"]}
                if bad:
                    print("   culprit classes: " + ", ".join(
                        f"{c} {v['own']}/{v['calls']} calls (max {_fmt(v['max_diff'])})" for c, v in bad.items()))
                via = {c: v for c, v in res["classes"].items() if v["differ"] and not v["own"]}
                if via:
                    print("   differ only through a child: " + ", ".join(f"{c} {v['differ']}/{v['calls']}"
                                                                      for c, v in via.items()))
                nondet = [r["name"] for r in res["records"] if r.get("nondeterministic")]
                if nondet:
                    print(f"   nondeterministic run to run (not batch effects): {', '.join(nondet[:8])}")
            img = scenarios.get("image_uint8")
            if img:
                print(f"   {part} image (uint8, each latent alone vs in the batch): {img['pixels_differing']} of "
                      f"{img['pixels_total']} pixels differ, max {img['max_level_diff']}/255")
        s = models.get("sampling")
        if s:
            print(f"\n== sampling: {s['steps']} guided Euler steps, {s['jobs']} jobs batched vs each alone: latents "
                  f"{_state(s['latents_exact'], s['latents_max_diff'])}; "
                  f"{s['pixels_differing']} of {s['pixels_total']} pixels differ in {s['images_differing']} images, "
                  f"max {s['max_level_diff']}/255")
    ops = report.get("ops")
    if ops:
        batches = list(ops[0]["vs_alone"].keys())
        print("\n== ops: max |diff| of row i in a batch of B vs alone / vs in a batch of 2 with itself (0 = bit-exact)")
        print(f"   {'op':20s} {'shape':38s} " + " ".join(f"{'B=' + str(b):>17s}" for b in batches))
        for e in ops:
            print(f"   {e['op']:20s} {e['shape']:38s} " + " ".join(
                f"{_fmt(e['vs_alone'][b]) + ' / ' + _fmt(e['vs_dup'][b]):>17s}" for b in batches)
                + ("  nondeterministic run to run" if e.get("nondeterministic") else ""))
    print(f"\n== total {report['seconds']:.1f}s")


def print_table(files):
    """One markdown row per JSON report: the culprit classes against a batch of 1 and against
    batches of 2 or more, per part, with the end-to-end numbers; then one row per op sweep."""
    short = {"unet": "unet", "controlnet": "cn", "vae": "vae"}

    def culprits(parts, names):
        texts = []
        for part, scenarios in parts.items():
            classes = {}
            for name in names:
                res = scenarios.get(name)
                for g in (res or {}).get("groups", []):
                    if g["own"]:
                        c = classes.setdefault(name, {}).setdefault(g["class"], [0, 0.0])
                        c[0] += g["own"]
                        c[1] = max(c[1], g["max_diff"])
            merged = {}
            for per in classes.values():  # the larger count over the scenarios
                for cls, (count, diff) in per.items():
                    m = merged.setdefault(cls, [0, 0.0])
                    m[0], m[1] = max(m[0], count), max(m[1], diff)
            if merged:
                texts.append(f"{short.get(part, part)}: "
                             + ", ".join(f"{c} {v[0]} ({_fmt(v[1])})" for c, v in merged.items()))
            elif any(n in scenarios for n in names):
                texts.append(f"{short.get(part, part)}: none")
        return "; ".join(texts) or "-"

    rows, op_rows = [], []
    for path in files:
        with open(path) as f:
            r = json.load(f)
        env = r["environment"]
        dispatch = " ".join(f"{k}={v}" for k, v in env["env"].items()
                            if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY"))
        dispatch = dispatch or f"default ({env['cpu_capability']})"
        if not env.get("mkldnn_enabled", True):
            dispatch += " no-mkldnn"
        models = r.get("models")
        if models:
            parts = models["parts"]
            unet = parts.get("unet", {})
            e2e = unet.get("cfg-pair", unet.get("dup", {})).get("end_to_end")
            e2e = "-" if e2e is None else ("exact" if e2e["exact"] else _fmt(e2e["max_diff"]))
            vae = parts.get("vae", {})
            vae_text = "-"
            if "single" in vae:
                img = vae.get("image_uint8", {})
                whole = vae["single"]["end_to_end"]
                vae_text = (("exact" if whole["exact"] else _fmt(whole["max_diff"]))
                            + (f", {img['pixels_differing']} px" if img else ""))
            smp = models.get("sampling")
            smp = "-" if not smp else f"{smp['pixels_differing']} px (max {smp['max_level_diff']}/255)"
            rows.append(f"| {dispatch} | {env['threads']} | {'on' if models['row_stable_embeddings'] else 'off'} | "
                        f"{models['model'].replace('random-', '')} {models['size']}px | "
                        f"{culprits(parts, ['single', 'cfg-single'])} | {culprits(parts, ['dup', 'cfg-pair'])} | "
                        f"{e2e} | {vae_text} | {smp} |")
        if r.get("ops"):
            def bad(key):
                counts = {}
                for e in r["ops"]:
                    c = counts.setdefault(e["op"], [0, 0, 0.0])
                    c[1] += 1
                    worst = max(e[key].values())
                    c[0] += worst > 0
                    c[2] = max(c[2], worst)
                return ", ".join(f"{op} {c[0]}/{c[1]} ({_fmt(c[2])})" for op, c in counts.items() if c[0]) or "none"
            nondet = sum(1 for e in r["ops"] if e.get("nondeterministic"))
            op_rows.append(f"| {dispatch} | {env['threads']} | {len(r['ops'])} | {bad('vs_alone')} | {bad('vs_dup')} | "
                           f"{nondet} |")
    if rows:
        print("| dispatch | thr | patch | model | culprits vs batch of 1 | culprits vs batch of 2+ (dup, cfg-pair) "
              "| UNet cfg-pair end to end | VAE alone vs batch | sampling |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
    if op_rows:
        print("\n| dispatch | thr | op cases | differ vs alone (B=1) | differ vs in a batch of 2 | nondeterministic |")
        print("|---|---|---|---|---|---|")
        print("\n".join(op_rows))


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
