"""Slicing a module's arguments by rows, re-running each module call on its own rows, and the
kernels each call used."""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

from vsp_export.batch_invariance import RowwiseLinear, make_embeddings_row_stable
from vsp_export.op import install_processors  # registers vsp::attention
from vsp_export.random_models import RANDOM_SIZES
from vsp_export.trace import ControlNet, UNet, UNetWithAddedConditioning, VaeDecoder, residual_shapes

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
# Numbers as the reports print them.

def state_text(exact, diff):
    return "bit-exact" if exact else f"max |diff| {diff:.3g}"


def fmt(x):
    return "0" if x == 0 else f"{x:.1e}"
