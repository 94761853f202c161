"""The models (random or a saved pipeline), their inputs per scenario, and the bisect of each
part (UNet, ControlNet, VAE decoder) and of whole sampled images."""
from rowbisect.rows import *  # noqa: F401,F403  (the shared imports and helpers)


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
                f"{state_text(root_rec['exact'], root_rec['max_diff'])} "
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
        f"{state_text(res['latents_exact'], res['latents_max_diff'])}, "
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

