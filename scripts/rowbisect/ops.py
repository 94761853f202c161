"""Raw operations at the shapes the models use: each row alone against in a batch."""
from rowbisect.rows import *  # noqa: F401,F403  (the shared imports and helpers)


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
        cells = " ".join(f"B{b}:{fmt(entry['vs_alone'][b])}/{fmt(entry['vs_dup'][b])}" for b in batches)
        log(f"[ops] {op:20s} {shape:38s} {cells}{' NONDETERMINISTIC' if entry['nondeterministic'] else ''}")
    log(f"[ops] {len(results)} cases in {time.time() - started:.1f}s")
    return results


