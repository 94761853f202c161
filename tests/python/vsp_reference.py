"""Visual style prompting written plainly from docs/methods.md (section 1) with diffusers' SDXL
parts, as the reference the C++ pipeline is compared with; with shared_attention, StyleAligned's
shared attention as the paper's code has it (AdaIN of queries and keys, concatenated K/V). It does the obvious thing on purpose:
the whole CFG batch [u_ref, u_t1..u_tN, c_ref, c_t1..c_tN] goes through the UNet in one call, and
in the chosen self-attention layers every target row's K and V are overwritten by the reference
row's of the same CFG half before ordinary SDPA (no folding, no separate reference call)."""
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler
from PIL import Image

SCHEDULERS = {"euler": EulerDiscreteScheduler, "ddim": DDIMScheduler, "dpmpp2m": DPMSolverMultistepScheduler}


@dataclass
class SwapState:
    """What the swap processors read: the current step and which steps swap."""
    swap_steps: set
    halves: int = 2
    step: int = -1
    shared_attention: bool = False  # StyleAligned's shared attention instead of the swap
    shared_adain: bool = True


def adain_to_reference(x, reference_rows):
    """Each row renormalised, per head and channel over the tokens, to its reference row's mean and
    std (unbiased variance + 1e-5, under the square root)."""
    mean, std = x.mean(dim=-2, keepdim=True), (x.var(dim=-2, keepdim=True) + 1e-5).sqrt()
    return (x - mean) / std * std[reference_rows] + mean[reference_rows]


class StyleSwapProcessor:
    """Self-attention with the targets' K/V replaced by the reference row's of their CFG half."""

    def __init__(self, state: SwapState):
        self.state = state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        assert encoder_hidden_states is None and attention_mask is None and hidden_states.ndim == 3
        assert attn.norm_q is None and attn.norm_k is None and attn.group_norm is None and attn.spatial_norm is None
        batch, tokens, _ = hidden_states.shape
        heads = attn.heads
        q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        head_dim = k.shape[-1] // heads
        q, k, v = (x.view(batch, -1, heads, head_dim).transpose(1, 2) for x in (q, k, v))
        if self.state.step in self.state.swap_steps and self.state.shared_attention:
            # Every row (the reference too) attends to [its own K; its half's reference K].
            rows = batch // self.state.halves  # reference first in every half
            reference_rows = [row // rows * rows for row in range(batch)]
            if self.state.shared_adain:
                q, k = adain_to_reference(q, reference_rows), adain_to_reference(k, reference_rows)
            k, v = torch.cat([k, k[reference_rows]], dim=-2), torch.cat([v, v[reference_rows]], dim=-2)
        elif self.state.step in self.state.swap_steps:
            rows = batch // self.state.halves  # reference first in every half
            k, v = k.clone(), v.clone()
            for half in range(self.state.halves):
                ref = half * rows
                k[ref + 1:ref + rows] = k[ref]
                v[ref + 1:ref + rows] = v[ref]
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(batch, -1, heads * head_dim)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def swap_processors(unet, layer_prefixes, state):
    """Processors for every layer: the swap in attn1 under one of the prefixes, the stock elsewhere."""
    processors = {}
    for name, processor in unet.attn_processors.items():
        module = name[: -len(".processor")]
        selected = module.endswith(".attn1") and any(module.startswith(p + ".") for p in layer_prefixes)
        processors[name] = StyleSwapProcessor(state) if selected else processor
    if not any(isinstance(p, StyleSwapProcessor) for p in processors.values()):
        raise ValueError(f"no self-attention layer under {layer_prefixes}")
    return processors


@dataclass
class StyleRun:
    reference_prompt: str
    target_prompts: list
    reference_seed: int
    target_seeds: list
    layers: list
    steps: int
    cfg: float
    sampler: str = "euler"
    negative: str | None = None          # None: zero negatives; "" is encoded
    zero_target_negatives: bool = False
    warmup_steps: int = 0
    warmup_cfg: float = 0.0
    swap_steps: set | None = None        # None: every step
    width: int = 64
    height: int = 64
    style_image: np.ndarray | None = None  # uint8 HxWx3, exactly the output size
    color_calibration: bool = True
    calibration_window: tuple = (100, 150)
    shared_attention: bool = False
    shared_adain: bool = True
    controlnet: object = None                # a diffusers ControlNetModel steering the targets
    control_image: np.ndarray | None = None  # uint8 HxWx3 control map at the output size
    control_scale: float = 1.0
    control_window: tuple = (0.0, 1.0)
    target_image: np.ndarray | None = None  # uint8 HxWx3 at the output size: targets start from it
    strength: float = 0.75


def encode(pipe, run):
    """Conditional and unconditional (embeds, pooled) for rows [ref, targets...]."""
    prompts = [run.reference_prompt, *run.target_prompts]
    rows = len(prompts)
    zero_negatives = run.style_image is not None or run.negative is None
    embeds, neg_embeds, pooled, neg_pooled = pipe.encode_prompt(
        prompt=prompts, device=torch.device("cpu"), num_images_per_prompt=1, do_classifier_free_guidance=True,
        negative_prompt=None if zero_negatives else [run.negative] * rows)
    if zero_negatives:
        neg_embeds, neg_pooled = torch.zeros_like(embeds), torch.zeros_like(pooled)
    elif run.zero_target_negatives:
        neg_embeds, neg_pooled = neg_embeds.clone(), neg_pooled.clone()
        neg_embeds[1:] = 0
        neg_pooled[1:] = 0
    return (embeds, pooled), (neg_embeds, neg_pooled)


def encode_image(pipe, pixels):
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255 * 2 - 1
    return pipe.vae.encode(image).latent_dist.mean * pipe.vae.config.scaling_factor


def decode(pipe, latents):
    """Float images [rows, H, W, 3] in [0, 1], one VAE call per row."""
    images = [pipe.vae.decode(latents[r:r + 1] / pipe.vae.config.scaling_factor).sample for r in range(len(latents))]
    return (torch.cat(images) / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def calibrate_colours(scheduler, out, eps, t):
    """methods.md 1.7: every row's x0 renormalised per channel to the reference row's x0."""
    x0 = out.pred_original_sample
    mean, std = x0.mean(dim=(2, 3), keepdim=True), x0.std(dim=(2, 3), keepdim=True)
    corrected = (x0 - mean) / (std + 1e-8) * std[:1] + mean[:1]
    prev_t = int(t) - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    alpha_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
    return alpha_prev.sqrt() * corrected + (1 - alpha_prev).sqrt() * eps


def targets_from_picture(pipe, scheduler, run):
    """Image to image for the targets, as diffusers' img2img pipelines prepare it per target seed:
    the posterior sampled, then the noise, added at the first of the last int(steps * strength)
    steps. Returns that step and the targets' latents there."""
    first_step = run.steps - min(int(run.steps * run.strength), run.steps)
    image = torch.from_numpy(run.target_image).permute(2, 0, 1)[None].float() / 255 * 2 - 1
    posterior = pipe.vae.encode(image).latent_dist
    starts = []
    for seed in run.target_seeds:
        generator = torch.Generator("cpu").manual_seed(seed)
        z0 = posterior.sample(generator) * pipe.vae.config.scaling_factor
        noise = torch.randn(z0.shape, generator=generator)
        starts.append(scheduler.add_noise(z0, noise, scheduler.timesteps[first_step:first_step + 1]))
    return first_step, torch.cat(starts)


@torch.no_grad()
def visual_style_prompting(pipe, run):
    """Final latents and images [1 + N, ...] (row 0 is the reference)."""
    scheduler = SCHEDULERS[run.sampler].from_config(pipe.scheduler.config)
    scheduler.set_timesteps(run.steps)
    h, w = run.height // 8, run.width // 8
    seeds = [run.reference_seed, *run.target_seeds]
    noise = [torch.randn((1, 4, h, w), generator=torch.Generator("cpu").manual_seed(s)) for s in seeds]
    latents = torch.cat(noise) * scheduler.init_noise_sigma

    (embeds, pooled), (neg_embeds, neg_pooled) = encode(pipe, run)
    guidance = [run.warmup_cfg if i < run.warmup_steps else run.cfg for i in range(run.steps)]
    guided = max(guidance) > 1
    if guided:
        embeds, pooled = torch.cat([neg_embeds, embeds]), torch.cat([neg_pooled, pooled])
    time_ids = torch.tensor([[run.height, run.width, 0, 0, run.height, run.width]], dtype=embeds.dtype)
    time_ids = time_ids.repeat(len(embeds), 1)

    first_step, starts = targets_from_picture(pipe, scheduler, run) if run.target_image is not None else (-1, None)
    trajectory = None
    if run.style_image is not None:
        z0 = encode_image(pipe, run.style_image)
        generator = torch.Generator("cpu").manual_seed(run.reference_seed)
        trajectory = [scheduler.add_noise(z0, torch.randn(z0.shape, generator=generator), t.reshape(1))
                      for t in scheduler.timesteps]

    state = SwapState(set(range(run.steps)) if run.swap_steps is None else set(run.swap_steps), 2 if guided else 1,
                      shared_attention=run.shared_attention, shared_adain=run.shared_adain)
    saved = pipe.unet.attn_processors
    pipe.unet.set_attn_processor(swap_processors(pipe.unet, run.layers, state))
    try:
        for i, t in enumerate(scheduler.timesteps):
            state.step = i
            if trajectory is not None:
                latents[:1] = trajectory[i]
            if i == first_step:
                latents[1:] = starts
            model_input = torch.cat([latents, latents]) if guided else latents
            model_input = scheduler.scale_model_input(model_input, t)
            added = {"text_embeds": pooled, "time_ids": time_ids}
            residuals = {}
            start, end = run.control_window
            if run.controlnet is not None and not (i / run.steps < start or (i + 1) / run.steps > end):
                # The ControlNet on every row with the control image, as diffusers' pipeline; then the
                # reference rows' residuals are zeroed: only the targets are steered.
                image = torch.from_numpy(run.control_image).permute(2, 0, 1)[None].float() / 255
                down, mid = run.controlnet(model_input, t, embeds, image.repeat(len(model_input), 1, 1, 1),
                                           conditioning_scale=run.control_scale, added_cond_kwargs=added,
                                           return_dict=False)
                reference_rows = [0, len(model_input) // 2] if guided else [0]
                for residual in [*down, mid]:
                    residual[reference_rows] = 0
                residuals = {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}
            eps = pipe.unet(model_input, t, encoder_hidden_states=embeds, added_cond_kwargs=added, **residuals).sample
            if guided:
                uncond, cond = eps.chunk(2)
                eps = uncond + guidance[i] * (cond - uncond)
                if trajectory is not None:
                    eps[:1] = cond[:1]  # the real-image reference takes its conditional prediction alone
            out = scheduler.step(eps, t, latents)
            low, high = run.calibration_window
            if trajectory is not None and run.color_calibration and low < int(t) < high:
                latents = calibrate_colours(scheduler, out, eps, t)
            else:
                latents = out.prev_sample
    finally:
        pipe.unet.set_attn_processor(saved)
    return latents, decode(pipe, latents)


def read_png(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
