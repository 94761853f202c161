"""Null-text inversion (Mokady et al., "Null-text Inversion for Editing Real Images"; the official
null_text_w_ptp notebook of google/prompt-to-prompt) written plainly with diffusers' parts, as the
reference `vsp edit --image` is compared with; SD 1.x and SDXL.

  1. DDIM inversion of the image's latent with the source prompt, guidance 1 (the notebook's
     ddim_loop: at step i the UNet sees the latent of the previous timestep at the next one).
  2. For each sampling step i: the unconditional embedding, starting from the previous step's
     (first: the pipeline's negative, SDXL zeros or the encoded ""), is optimised with Adam,
     lr 0.01 (1 - i / 100), at most 10 iterations, stopping once the MSE between the guided DDIM step
     from the current latent and the inverted trajectory's next latent is below 1e-5 + i 2e-5; the
     current latent then takes the guided step with the optimised embedding.
The pooled embedding (SDXL) is not optimised."""
import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDIMScheduler

from p2p_reference import encode, is_sdxl
from styleid_reference import encode_image


def source_rows(pipe, run):
    """(cond, uncond) of the source prompt alone: (embeds [1, 77, D], pooled [1, P] or None), and time ids."""
    (embeds, pooled), (neg_embeds, neg_pooled) = encode(pipe, run)
    time_ids = None
    if is_sdxl(pipe):
        time_ids = torch.tensor([[run.height, run.width, 0, 0, run.height, run.width]], dtype=embeds.dtype)
        return (embeds[:1], pooled[:1]), (neg_embeds[:1], neg_pooled[:1]), time_ids
    return (embeds[:1], None), (neg_embeds[:1], None), time_ids


def eps(pipe, x, t, embeds, pooled, time_ids):
    added = None if pooled is None else {"text_embeds": pooled, "time_ids": time_ids}
    return pipe.unet(x, t, encoder_hidden_states=embeds, added_cond_kwargs=added).sample


@torch.no_grad()
def load_512(path, size):
    """The null-text notebook's load_512 at size x size: the centre square (offset (W - w) // 2),
    then Image.resize's default, Pillow's BICUBIC."""
    from PIL import Image
    image = np.array(Image.open(path))[:, :, :3]
    h, w = image.shape[:2]
    if h < w:
        offset = (w - h) // 2
        image = image[:, offset:offset + h]
    elif w < h:
        offset = (h - w) // 2
        image = image[offset:offset + w]
    return np.array(Image.fromarray(image).resize((size, size)))


def ddim_inversion(pipe, run, pixels):
    """x_0 (the image's latent) .. x_N (inverted), with the source prompt at guidance 1."""
    (embeds, pooled), _, time_ids = source_rows(pipe, run)
    sched = DDIMScheduler.from_config(pipe.scheduler.config)
    sched.set_timesteps(run.steps)
    alphas = sched.alphas_cumprod
    ratio = sched.config.num_train_timesteps // run.steps
    path = [encode_image(pipe, pixels)]
    for t in reversed(sched.timesteps):
        s = int(t) - ratio
        a_s = alphas[s] if s >= 0 else (torch.tensor(1.0) if sched.config.set_alpha_to_one else alphas[0])
        a_t = alphas[int(t)]
        x = path[-1]
        e = eps(pipe, x, t, embeds, pooled, time_ids)
        x0 = (x - (1 - a_s).sqrt() * e) / a_s.sqrt()
        path.append(a_t.sqrt() * x0 + (1 - a_t).sqrt() * e)
    return path


def null_text(pipe, run, path, iterations=10):
    """The optimised unconditional embeddings, one [1, 77, D] per step, and each step's last loss."""
    (embeds, pooled), (uncond, neg_pooled), time_ids = source_rows(pipe, run)
    sched = DDIMScheduler.from_config(pipe.scheduler.config)
    sched.set_timesteps(run.steps)
    for parameter in pipe.unet.parameters():
        parameter.requires_grad_(False)
    latent = path[-1]
    optimised, losses = [], []
    with torch.enable_grad():
        for i, t in enumerate(sched.timesteps):
            target = path[len(path) - i - 2]
            with torch.no_grad():
                eps_cond = eps(pipe, latent, t, embeds, pooled, time_ids)
            uncond = uncond.clone().detach().requires_grad_(True)
            adam = torch.optim.Adam([uncond], lr=1e-2 * (1.0 - i / 100.0))
            for _ in range(iterations):
                eps_uncond = eps(pipe, latent, t, uncond, neg_pooled, time_ids)
                guided = eps_uncond + run.cfg * (eps_cond - eps_uncond)
                loss = F.mse_loss(sched.step(guided, t, latent).prev_sample, target)
                adam.zero_grad()
                loss.backward()
                adam.step()
                if loss.item() < 1e-5 + i * 2e-5:
                    break
            uncond = uncond.detach()
            optimised.append(uncond)
            losses.append(loss.item())
            with torch.no_grad():
                eps_uncond = eps(pipe, latent, t, uncond, neg_pooled, time_ids)
                latent = sched.step(eps_uncond + run.cfg * (eps_cond - eps_uncond), t, latent).prev_sample
    return optimised, losses
