"""Reference gradients for the denoiser seam test (tests/unit/pipeline/gradient_test.cpp).

Usage: fixtures_gradients.py OUTDIR   (reads OUTDIR/{tiny,sd1-tiny}-diffusers, writes
OUTDIR/gradients/{tiny,sd1-tiny}/)

For the tiny SDXL and the tiny SD 1.x UNet, one guided prediction as vsp's denoiser makes it: the
batch [x, x] with [uncond, cond] embeddings (and, for SDXL, the pooled embedding and time ids), eps = eps_u + 5 (eps_c - eps_u). The loss is sum(eps * weight). The
gradient of that loss with respect to the unconditional embedding is taken by PyTorch autograd on
the diffusers UNet. Raw little-endian float32 .bin files, shapes in index.json."""
import json
import os
import sys

import numpy as np
import torch
from diffusers import UNet2DConditionModel

GUIDANCE = 5.0
TIMESTEP = 500.0


def write(data, model):
    out = os.path.join(data, "gradients", model)
    os.makedirs(out, exist_ok=True)
    unet = UNet2DConditionModel.from_pretrained(os.path.join(data, f"{model}-diffusers", "unet")).eval()
    added = unet.config.addition_embed_type == "text_time"
    generator = torch.Generator().manual_seed(0)
    width = unet.config.cross_attention_dim
    tensors = {
        "sample": torch.randn(1, unet.config.in_channels, 8, 8, generator=generator),
        "uncond": torch.randn(1, 77, width, generator=generator) * 0.5,
        "cond": torch.randn(1, 77, width, generator=generator) * 0.5,
        "weight": torch.randn(1, unet.config.in_channels, 8, 8, generator=generator),
    }
    time_ids = torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]])
    added_inputs = None
    if added:
        pooled_width = unet.config.projection_class_embeddings_input_dim - 6 * unet.config.addition_time_embed_dim
        tensors["pooled"] = torch.randn(1, pooled_width, generator=generator)
        added_inputs = {"text_embeds": torch.cat([tensors["pooled"]] * 2), "time_ids": time_ids.repeat(2, 1)}
    uncond = tensors["uncond"].clone().requires_grad_(True)
    eps = unet(torch.cat([tensors["sample"]] * 2), torch.tensor(TIMESTEP),
               encoder_hidden_states=torch.cat([uncond, tensors["cond"]]), added_cond_kwargs=added_inputs).sample
    eps_u, eps_c = eps.chunk(2)
    guided = eps_u + GUIDANCE * (eps_c - eps_u)
    (guided * tensors["weight"]).sum().backward()
    tensors["grad_uncond"] = uncond.grad
    tensors["guided"] = guided.detach()
    index = {"guidance": GUIDANCE, "timestep": TIMESTEP, "shapes": {}}
    if added:
        index["time_ids"] = time_ids[0].tolist()
    for name, tensor in tensors.items():
        tensor.detach().numpy().astype("<f4").tofile(os.path.join(out, f"{name}.bin"))
        index["shapes"][name] = list(tensor.shape)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    print(f"[fixtures_gradients] |grad| max {tensors['grad_uncond'].abs().max():.3g} -> {out}")


def main():
    for model in ("tiny", "sd1-tiny"):
        write(sys.argv[1], model)


if __name__ == "__main__":
    main()
