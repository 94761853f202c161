"""StyleID style injection (Chung et al., CVPR 2024; the official code jiwoogit/StyleID) written
plainly with diffusers' parts, as the reference `vsp transfer` is compared with. Every content and
style picture is DDIM-inverted once under the empty prompt (no CFG), recording the self-attention
q, k, v of the injected layers at every timestep; each (content, style) pair then starts from the
AdaIN of the two inverted latents and is DDIM-sampled with, in the injected layers, the query
blended from the content's and its own (gamma), scaled by tau, attending to the style's keys and
values. One picture or pair per UNet call: nothing batched, nothing cached beyond the recordings."""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler


@dataclass
class TransferRun:
    gamma: float = 0.75
    tau: float = 1.5
    adain: bool = True
    injection: bool = True
    steps: int = 50
    start_step: int = 1


@dataclass
class InjectionState:
    """What the processors read: the current timestep, what to do, and the recordings."""
    mode: str = "plain"   # "plain": stock attention; "record": stock, q/k/v kept; "inject": StyleID attention
    t: int = -1
    record: dict = None   # (layer, t) -> (q, k, v) of the picture being inverted
    content: dict = None  # the recordings of the pair's content picture
    style: dict = None    # ... and of its style picture
    gamma: float = 0.75
    tau: float = 1.5


class StyleIDProcessor:
    """Self-attention (attn1) of an injected layer, as AttnProcessor2_0 apart from the injection."""

    def __init__(self, name, state):
        self.name, self.state = name, state

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        assert encoder_hidden_states is None and attention_mask is None and hidden_states.ndim == 3
        assert attn.norm_q is None and attn.norm_k is None and attn.group_norm is None and attn.spatial_norm is None
        assert not attn.residual_connection and attn.rescale_output_factor == 1
        batch, _, _ = hidden_states.shape
        heads = attn.heads
        q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        head_dim = k.shape[-1] // heads
        q, k, v = (x.view(batch, -1, heads, head_dim).transpose(1, 2) for x in (q, k, v))
        state, key = self.state, (self.name, self.state.t)
        if state.mode == "record":
            state.record[key] = (q, k, v)
        elif state.mode == "inject":
            q_c = state.content[key][0]
            _, k, v = state.style[key]
            q = (state.gamma * q_c + (1 - state.gamma) * q) * state.tau  # SDPA's 1/sqrt(head_dim) stays
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).reshape(batch, -1, heads * head_dim)
        return attn.to_out[1](attn.to_out[0](out))


def injected_layers(model, count=6):
    """The last `count` self-attention layers in execution order, from vsp's manifest."""
    rows = json.loads((Path(model) / "manifest.json").read_text())["attention_layers"]
    return [row["name"] for row in rows if row["kind"] == "self"][-count:]


def styleid_processors(unet, layers, state):
    processors = {}
    for name, processor in unet.attn_processors.items():
        module = name[: -len(".processor")]
        processors[name] = StyleIDProcessor(module, state) if module in layers else processor
    missing = set(layers) - {p.name for p in processors.values() if isinstance(p, StyleIDProcessor)}
    assert not missing, f"no such attention layers: {sorted(missing)}"
    return processors


def load_img(path, size):
    """The official run_styleid.py's load_img at size x size: RGB, torchvision's CenterCrop to the
    shorter side (offset round((W - w) / 2), halves to even), then Pillow's LANCZOS."""
    from PIL import Image
    image = Image.open(path).convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = int(round((w - side) / 2.0)), int(round((h - side) / 2.0))
    image = image.crop((left, top, left + side, top + side))
    return np.asarray(image.resize((size, size), resample=Image.Resampling.LANCZOS))


def encode_image(pipe, pixels):
    """uint8 HxWx3 at the output size -> the latent mean, scaled (no sampling)."""
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255 * 2 - 1
    return pipe.vae.encode(image).latent_dist.mean * pipe.vae.config.scaling_factor


def decode(pipe, latents):
    """Images [rows, H, W, 3] in [0, 1] as the pipelines postprocess them, one VAE call per row."""
    images = [pipe.vae.decode(latents[r:r + 1] / pipe.vae.config.scaling_factor).sample for r in range(len(latents))]
    return pipe.image_processor.postprocess(torch.cat(images), output_type="np")


def empty_prompt(pipe, height, width):
    """UNet keyword arguments for the empty prompt, conditional branch only."""
    if hasattr(pipe, "text_encoder_2"):  # SDXL: pooled embeds and size/crop time ids
        embeds, _, pooled, _ = pipe.encode_prompt("", device="cpu", num_images_per_prompt=1,
                                                  do_classifier_free_guidance=False)
        time_ids = torch.tensor([[height, width, 0, 0, height, width]], dtype=embeds.dtype)
        return {"encoder_hidden_states": embeds, "added_cond_kwargs": {"text_embeds": pooled, "time_ids": time_ids}}
    return {"encoder_hidden_states": pipe.encode_prompt("", "cpu", 1, False)[0]}


def unet(pipe, state, x, t, cond):
    state.t = int(t)
    return pipe.unet(x, t, **cond).sample


def invert(pipe, state, x0, cond, steps):
    """DDIM inversion x_0 -> x_N (the whole path) with this picture's q/k/v recorded per (layer, t),
    as the official code's ldm sampler (encode_ddim / reverse_ddim): the UNet sees x_t at its own
    timestep t, the clean latent entering at the first one, and each step moves to the next
    timestep, the last to T - 1 = 999."""
    sched = DDIMScheduler.from_config(pipe.scheduler.config)
    sched.set_timesteps(steps)
    alphas = sched.alphas_cumprod
    ascending = [int(t) for t in reversed(sched.timesteps)]
    targets = ascending[1:] + [sched.config.num_train_timesteps - 1]
    state.mode, state.record = "record", {}
    path = [x0]
    for t, t_next in zip(ascending, targets):
        a_t, a_next = alphas[t], alphas[t_next]
        x = path[-1]
        eps = unet(pipe, state, x, torch.tensor(t), cond)
        x0_pred = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        path.append(a_next.sqrt() * x0_pred + (1 - a_next).sqrt() * eps)
    state.mode = "plain"
    return path, state.record


def adain(content, style):
    """Per channel over the spatial dims, unbiased std, no epsilon."""
    c_mean, c_std = content.mean(dim=(2, 3), keepdim=True), content.std(dim=(2, 3), keepdim=True)
    s_mean, s_std = style.mean(dim=(2, 3), keepdim=True), style.std(dim=(2, 3), keepdim=True)
    return s_std * (content - c_mean) / c_std + s_mean


def sample(pipe, state, z, cond, run):
    """DDIM (eta 0) from timesteps[start_step] on; the injection on every executed step if asked."""
    sched = DDIMScheduler.from_config(pipe.scheduler.config)
    sched.set_timesteps(run.steps)
    state.mode = "inject" if run.injection else "plain"
    for j in range(run.start_step, run.steps):
        t = sched.timesteps[j]
        eps = unet(pipe, state, z, t, cond)
        z = sched.step(eps, t, z).prev_sample
    state.mode = "plain"
    return z


@torch.no_grad()
def style_transfer(pipe, layers, contents, styles, run):
    """Final latents [pairs, C, h, w] and images [pairs, H, W, 3] for every (content, style),
    content-major; contents and styles are uint8 HxWx3 arrays at the output size."""
    height, width = contents[0].shape[:2]
    assert all(p.shape[:2] == (height, width) for p in [*contents, *styles])
    cond = empty_prompt(pipe, height, width)
    state = InjectionState(gamma=run.gamma, tau=run.tau)
    saved = pipe.unet.attn_processors
    pipe.unet.set_attn_processor(styleid_processors(pipe.unet, layers, state))
    try:
        inverted = lambda pixels: invert(pipe, state, encode_image(pipe, pixels), cond, run.steps)
        content_runs, style_runs = [inverted(p) for p in contents], [inverted(p) for p in styles]
        latents = []
        for content_path, content_features in content_runs:
            for style_path, style_features in style_runs:
                state.content, state.style = content_features, style_features
                z = adain(content_path[-1], style_path[-1]) if run.adain else content_path[-1]
                latents.append(sample(pipe, state, z, cond, run))
    finally:
        pipe.unet.set_attn_processor(saved)
    latents = torch.cat(latents)
    return latents, decode(pipe, latents)
