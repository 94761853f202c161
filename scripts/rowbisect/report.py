"""The report as text, and saved reports as markdown table rows."""
from rowbisect.rows import *  # noqa: F401,F403  (the shared imports and helpers)


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
                print(f"   end to end: {state_text(e2e['exact'], e2e['max_diff'])}")
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
                              f"{fmt(g['max_diff']):>9s}  {g['example'] or ''}")
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
                        f"{c} {v['own']}/{v['calls']} calls (max {fmt(v['max_diff'])})" for c, v in bad.items()))
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
                  f"{state_text(s['latents_exact'], s['latents_max_diff'])}; "
                  f"{s['pixels_differing']} of {s['pixels_total']} pixels differ in {s['images_differing']} images, "
                  f"max {s['max_level_diff']}/255")
    ops = report.get("ops")
    if ops:
        batches = list(ops[0]["vs_alone"].keys())
        print("\n== ops: max |diff| of row i in a batch of B vs alone / vs in a batch of 2 with itself (0 = bit-exact)")
        print(f"   {'op':20s} {'shape':38s} " + " ".join(f"{'B=' + str(b):>17s}" for b in batches))
        for e in ops:
            print(f"   {e['op']:20s} {e['shape']:38s} " + " ".join(
                f"{fmt(e['vs_alone'][b]) + ' / ' + fmt(e['vs_dup'][b]):>17s}" for b in batches)
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
                             + ", ".join(f"{c} {v[0]} ({fmt(v[1])})" for c, v in merged.items()))
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
            e2e = "-" if e2e is None else ("exact" if e2e["exact"] else fmt(e2e["max_diff"]))
            vae = parts.get("vae", {})
            vae_text = "-"
            if "single" in vae:
                img = vae.get("image_uint8", {})
                whole = vae["single"]["end_to_end"]
                vae_text = (("exact" if whole["exact"] else fmt(whole["max_diff"]))
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
                return ", ".join(f"{op} {c[0]}/{c[1]} ({fmt(c[2])})" for op, c in counts.items() if c[0]) or "none"
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


