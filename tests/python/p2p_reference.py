"""Prompt-to-prompt (Hertz et al., 2022; the official code google/prompt-to-prompt: its
prompt-to-prompt_stable notebook, seq_aligner.py and ptp_utils.py) written plainly with diffusers'
parts, as the reference `vsp edit` is compared with; SD 1.x and SDXL.

The batch is [source, edit 1, ..., edit E], all from one initial noise; the whole CFG batch
[uncond rows..., cond rows...] goes through the UNet in one call. Every attention module gets a
processor that computes the probabilities explicitly, softmax(Q K^T * scale), hands them to one
controller, and multiplies the (possibly edited) probabilities with V. The controller edits the
conditional half only, row 0 of it being the source:

  cross-attention   base_e = P_src . M_e            (replace: the 77x77 token mapper)
                    base_e = P_src[..., m_e] * a_e + P_e * (1 - a_e)   (refine: the alignment)
                    base_e = P_src                  (neither: reweight alone)
                    base_e = base_e * w_e           (reweight, per token column, after either)
                    P_e   <- base_e * alpha_t + P_e * (1 - alpha_t)   (alpha: the time-word alphas)
  self-attention    P_e   <- P_src for steps int(steps*a) <= s < int(steps*b), in layers with at
                    most (h/4)*(w/4) queries (h, w the latent size)

and, with a local blend, after every scheduler step the edited rows' latents are blended back to
the source's outside a mask made from the summed cross-attention maps of the blend words.

The alignment functions (p2p_alignment.py) follow seq_aligner.py / ptp_utils.py exactly, quirks included."""
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler

from p2p_alignment import MAX_LEN, equalizer, refinement_mapper, replacement_mapper, time_word_alphas, window, \
    word_inds  # noqa: F401

# ----------------------------------------------------------------------------------------------
# The controller and its attention processors

@dataclass
class EditRun:
    source: str
    edits: list                      # edited prompts (may equal the source, for reweight alone)
    modes: object = "auto"           # per edit (or one for all): "auto", "replace", "refine", None (neither)
    reweight: dict | None = None     # {word: weight} applied in every edit containing the word
    blend: list | None = None        # per prompt (source first) a word or a list of words
    blend_threshold: float = 0.3
    cross_replace: object = 0.8      # float, (start, end) or {"default_": ..., word: ...}
    self_replace: object = 0.4       # float or (start, end)
    self_res: int | None = None      # self replacement where the grid's shorter side <= this (None: latent / 4)
    steps: int = 50
    cfg: float = 7.5
    seed: int = 0
    width: int = 64
    height: int = 64
    negative: str | None = None      # None: SDXL zeros / SD 1.x the encoded ""; else encoded for every row
    source_pooled: bool = False      # SDXL: edit rows take the source's pooled embedding in the default window

    @property
    def prompts(self):
        return [self.source, *self.edits]

    def mode_of(self, e):
        mode = self.modes[e] if isinstance(self.modes, (list, tuple)) else self.modes
        if mode == "auto":
            return "replace" if len(self.edits[e].split(" ")) == len(self.source.split(" ")) else "refine"
        return mode


@dataclass
class Controller:
    """What the processors share: the edit tensors, the current step, and the attention store."""
    rows: int                        # 1 + E
    halves: int                      # 2 with CFG, else 1
    modes: list                      # per edit: "replace", "refine" or None
    replace: dict                    # edit -> [77, 77] mapper
    refine: dict                     # edit -> (mapper [77] int64, alphas [77])
    weights: torch.Tensor | None     # [E, 77] or None
    alphas: torch.Tensor             # [steps + 1, E, 77]
    self_window: tuple               # (first, end) steps of the self-attention replacement
    coarse: int                      # (h/4) * (w/4): blend layers at == this
    self_coarse: int                 # self replacement at <= this many query tokens
    storing: bool = False            # keep the blend layers' maps (for a local blend)
    step: int = 0
    store: dict = field(default_factory=dict)         # name -> summed [rows, heads, Nq, 77] over steps
    step_store: dict = field(default_factory=dict)

    def cross(self, name, probs):
        """probs [rows*halves, heads, Nq, 77], edited in place in the conditional half."""
        cond = probs[(self.halves - 1) * self.rows:]
        source = cond[0]
        alpha = self.alphas[self.step]
        for e in range(self.rows - 1):
            own = cond[e + 1]
            if self.modes[e] == "replace":
                base = source @ self.replace[e]
            elif self.modes[e] == "refine":
                mapper, a = self.refine[e]
                base = source[..., mapper] * a + own * (1 - a)
            else:
                base = source
            if self.weights is not None:
                base = base * self.weights[e]
            cond[e + 1] = base * alpha[e] + own * (1 - alpha[e])
        if self.storing and is_blend_layer(name, probs.shape[2], self.coarse):
            self.step_store[name] = cond.clone()  # as edited (the original stores the tensor it then edits)
        return probs

    def self_attention(self, probs):
        first, end = self.self_window
        if first <= self.step < end and probs.shape[2] <= self.self_coarse:
            cond = probs[(self.halves - 1) * self.rows:]
            cond[1:] = cond[0]
        return probs

    def end_step(self):
        """After the UNet call: add this step's maps to the store (AttentionStore.between_steps)."""
        for name, maps in self.step_store.items():
            self.store[name] = maps if name not in self.store else self.store[name] + maps
        self.step_store = {}


class P2PProcessor:
    """AttnProcessor2_0's computation with the probabilities explicit and handed to the controller."""

    def __init__(self, name, controller):
        self.name, self.controller = name, controller

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kwargs):
        assert attention_mask is None and hidden_states.ndim == 3
        assert attn.norm_q is None and attn.norm_k is None and attn.group_norm is None and attn.spatial_norm is None
        assert not attn.norm_cross
        is_cross = encoder_hidden_states is not None
        context = encoder_hidden_states if is_cross else hidden_states
        batch = hidden_states.shape[0]
        heads = attn.heads
        q, k, v = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
        head_dim = k.shape[-1] // heads
        q, k, v = (x.view(batch, -1, heads, head_dim).transpose(1, 2) for x in (q, k, v))
        probs = (q @ k.transpose(-1, -2) * attn.scale).softmax(dim=-1)
        probs = self.controller.cross(self.name, probs) if is_cross else self.controller.self_attention(probs)
        out = (probs @ v).transpose(1, 2).reshape(batch, -1, heads * head_dim)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def is_blend_layer(name, queries, coarse):
    """The blend layers: the cross-attention modules of down_blocks and up_blocks (not mid_block)
    with (h/4)*(w/4) queries (16x16 on SD 1.x at 512, 32x32 on SDXL at 1024)."""
    return name.split(".")[0] in ("down_blocks", "up_blocks") and queries == coarse


class LocalBlend:
    """The stable notebook's LocalBlend for 1 + E rows and any latent size."""

    def __init__(self, prompts, words, tokenizer, threshold=0.3, max_len=MAX_LEN):
        assert len(words) == len(prompts)
        self.indicator = torch.zeros(len(prompts), 1, 1, 1, 1, max_len)
        for row, (prompt, row_words) in enumerate(zip(prompts, words)):
            for word in [row_words] if isinstance(row_words, str) else row_words:
                self.indicator[row, ..., word_inds(prompt, word, tokenizer)] = 1
        self.threshold = threshold

    def __call__(self, x, store):
        """x [1 + E, C, h, w] after a scheduler step; store: layer -> summed maps, in execution order."""
        rows, _, h, w = x.shape
        maps = torch.cat([m.reshape(rows, -1, 1, h // 4, w // 4, m.shape[-1]) for m in store.values()], dim=1)
        maps = (maps * self.indicator).sum(-1).mean(1)
        mask = F.max_pool2d(maps, (3, 3), (1, 1), padding=(1, 1))
        mask = F.interpolate(mask, size=(h, w))
        mask = mask / mask.max(2, keepdim=True)[0].max(3, keepdim=True)[0]
        mask = mask.gt(self.threshold)
        mask = (mask[:1] | mask[1:]).float()
        return torch.cat([x[:1], x[:1] + mask * (x[1:] - x[:1])])


def make_controller(run, tokenizer, halves, latent_h, latent_w):
    prompts = run.prompts
    edits = range(len(run.edits))
    modes = [run.mode_of(e) for e in edits]
    replace = {e: replacement_mapper(run.source, run.edits[e], tokenizer) for e in edits if modes[e] == "replace"}
    refine = {e: refinement_mapper(run.source, run.edits[e], tokenizer) for e in edits if modes[e] == "refine"}
    weights = None
    if run.reweight:
        weights = torch.stack([equalizer(edit, run.reweight, tokenizer) for edit in run.edits])
    return Controller(rows=len(prompts), halves=halves, modes=modes, replace=replace, refine=refine, weights=weights,
                      alphas=time_word_alphas(prompts, run.steps, run.cross_replace, tokenizer)[..., None, None, :],
                      self_window=window(run.self_replace, run.steps), coarse=(latent_h // 4) * (latent_w // 4),
                      self_coarse=grid_tokens(latent_h, latent_w, run.self_res))


def grid_tokens(latent_h, latent_w, side):
    """Query tokens of the level whose grid's shorter side is `side` (None: the latent / 4 level)."""
    if side is None:
        return (latent_h // 4) * (latent_w // 4)
    h, w = latent_h, latent_w
    while min(h, w) > side:
        h, w = (h + 1) // 2, (w + 1) // 2
    assert min(h, w) == side, f"no level with side {side}"
    return h * w


# ----------------------------------------------------------------------------------------------
# Sampling

def is_sdxl(pipe):
    return getattr(pipe, "text_encoder_2", None) is not None


def encode(pipe, run):
    """(cond, uncond) pairs of (embeds [rows, 77, D], pooled [rows, P] or None), one row per prompt."""
    prompts = run.prompts
    rows = len(prompts)
    negative = None if run.negative is None else [run.negative] * rows
    if is_sdxl(pipe):
        embeds, neg_embeds, pooled, neg_pooled = pipe.encode_prompt(
            prompt=prompts, device=torch.device("cpu"), num_images_per_prompt=1, do_classifier_free_guidance=True,
            negative_prompt=negative)
        if run.negative is None:  # force_zeros_for_empty_prompt
            neg_embeds, neg_pooled = torch.zeros_like(embeds), torch.zeros_like(pooled)
        return (embeds, pooled), (neg_embeds, neg_pooled)
    embeds, neg_embeds = pipe.encode_prompt(prompts, torch.device("cpu"), 1, True, negative_prompt=negative)
    return (embeds, None), (neg_embeds, None)


def decode(pipe, latents):
    """Images [rows, H, W, 3] in [0, 1] as the pipelines postprocess them, one VAE call per row."""
    images = [pipe.vae.decode(latents[r:r + 1] / pipe.vae.config.scaling_factor).sample for r in range(len(latents))]
    return pipe.image_processor.postprocess(torch.cat(images), output_type="np")


def initial_latents(pipe, run, scheduler):
    h, w = run.height // pipe.vae_scale_factor, run.width // pipe.vae_scale_factor
    channels = pipe.unet.config.in_channels
    noise = torch.randn((1, channels, h, w), generator=torch.Generator("cpu").manual_seed(run.seed))
    return noise.expand(len(run.prompts), channels, h, w) * scheduler.init_noise_sigma


@torch.no_grad()
def prompt_to_prompt(pipe, run, tokenizer=None, start=None, uncond_per_step=None, negative_is_source=False):
    """Final latents float32 [1 + E, C, h, w] (after the last step's blend) and images [1 + E, H, W, 3]
    in [0, 1]; row 0 is the source. `tokenizer` aligns the prompts (default: the pipeline's first).
    A real image: `start` is its inverted latent [1, C, h, w] for every row, and either
    `uncond_per_step` its null-text embeddings or `negative_is_source` (the source's embeddings as
    every row's unconditional ones)."""
    tokenizer = tokenizer or pipe.tokenizer
    scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    scheduler.set_timesteps(run.steps)
    latents = initial_latents(pipe, run, scheduler) if start is None else start.expand(len(run.prompts), -1, -1, -1)
    rows, _, latent_h, latent_w = latents.shape
    guided = run.cfg > 1
    halves = 2 if guided else 1

    (embeds, pooled), (neg_embeds, neg_pooled) = encode(pipe, run)
    sdxl = pooled is not None
    if negative_is_source:
        neg_embeds = embeds[:1].expand(rows, -1, -1)
        neg_pooled = pooled[:1].expand(rows, -1) if sdxl else None
    if sdxl and run.source_pooled:
        default = run.cross_replace.get("default_", (0.0, 1.0)) if isinstance(run.cross_replace, dict) \
            else run.cross_replace
        pooled_window = window(default, run.steps + 1)
        source_pooled = torch.cat([pooled[:1], pooled[:1].expand(rows - 1, -1)])
    time_ids = None
    if sdxl:
        time_ids = torch.tensor([[run.height, run.width, 0, 0, run.height, run.width]], dtype=embeds.dtype)
        time_ids = time_ids.repeat(rows * halves, 1)
    context = torch.cat([neg_embeds, embeds]) if guided else embeds

    controller = make_controller(run, tokenizer, halves, latent_h, latent_w)
    blend = None
    if run.blend is not None:
        blend = LocalBlend(run.prompts, run.blend, tokenizer, run.blend_threshold)
        controller.storing = True
    saved = pipe.unet.attn_processors
    pipe.unet.set_attn_processor({name: P2PProcessor(name[: -len(".processor")], controller) for name in saved})
    try:
        for i, t in enumerate(scheduler.timesteps):
            controller.step = i
            model_input = scheduler.scale_model_input(torch.cat([latents] * halves), t)
            added = None
            if sdxl:
                cond_pooled = pooled
                if run.source_pooled and pooled_window[0] <= i < pooled_window[1]:
                    cond_pooled = source_pooled
                added = {"text_embeds": torch.cat([neg_pooled, cond_pooled]) if guided else cond_pooled,
                         "time_ids": time_ids}
            if uncond_per_step is not None:
                context = torch.cat([uncond_per_step[i].expand(rows, -1, -1), embeds])
            eps = pipe.unet(model_input, t, encoder_hidden_states=context, added_cond_kwargs=added).sample
            controller.end_step()
            if guided:
                uncond, cond = eps.chunk(2)
                eps = uncond + run.cfg * (cond - uncond)
            latents = scheduler.step(eps, t, latents).prev_sample
            if blend is not None:
                latents = blend(latents, controller.store)
    finally:
        pipe.unet.set_attn_processor(saved)
    return latents, decode(pipe, latents)


def load_pipeline(folder):
    """A float32 StableDiffusionXLPipeline or StableDiffusionPipeline from a diffusers folder."""
    import json
    from pathlib import Path

    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    torch.set_grad_enabled(False)
    index = json.loads((Path(folder) / "model_index.json").read_text())
    cls = StableDiffusionXLPipeline if "text_encoder_2" in index else StableDiffusionPipeline
    kwargs = {} if cls is StableDiffusionXLPipeline else {"safety_checker": None, "requires_safety_checker": False}
    return cls.from_pretrained(folder, torch_dtype=torch.float32, **kwargs)
