"""Random LoRA files for the tests, in kohya's / A1111's format (lora_unet_*, lora_te*_*, with
.alpha; SDXL's UNet layers under the original SGM UNet's names, as kohya's sd-scripts write them)
and in diffusers' PEFT format (unet.*, text_encoder*.*; .lora_A/.lora_B), on linear and conv
layers (LoCon)."""
import re

import torch
from safetensors.torch import save_file

UNET_LAYERS = re.compile(r"(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.(0\.proj|2)|proj_in|proj_out|"
                         r"resnets\.\d+\.(conv1|conv2|time_emb_proj|conv_shortcut)|downsamplers\.0\.conv|"
                         r"upsamplers\.0\.conv)$")
TEXT_LAYERS = re.compile(r"(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.fc[12])$")


def sgm_name(path, unet):
    """The SGM UNet's name of a diffusers UNet module, as kohya's SDXL LoRAs spell it (written from
    the SGM layout; diffusers' _maybe_map_sgm_blocks_to_diffusers is the independent way back)."""
    per_block = unet.config.layers_per_block + 1
    resnet = {"conv1": "in_layers.2", "conv2": "out_layers.3", "time_emb_proj": "emb_layers.1",
              "conv_shortcut": "skip_connection"}
    if m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", path):
        rest = m[4] if m[2] == "attentions" else resnet[m[4]]
        return f"input_blocks.{1 + int(m[1]) * per_block + int(m[3])}.{int(m[2] == 'attentions')}.{rest}"
    if m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv", path):
        return f"input_blocks.{1 + int(m[1]) * per_block + per_block - 1}.0.op"
    if m := re.fullmatch(r"mid_block\.(resnets|attentions)\.(\d+)\.(.+)", path):
        part = 1 if m[1] == "attentions" else 2 * int(m[2])
        return f"middle_block.{part}.{m[3] if m[1] == 'attentions' else resnet[m[3]]}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)", path):
        rest = m[4] if m[2] == "attentions" else resnet[m[4]]
        return f"output_blocks.{int(m[1]) * per_block + int(m[3])}.{int(m[2] == 'attentions')}.{rest}"
    if m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv", path):
        return f"output_blocks.{int(m[1]) * per_block + per_block - 1}.2.conv"
    raise ValueError(path)


def layers(module, pattern):
    return [(name, m) for name, m in module.named_modules()
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)) and pattern.search(name)]


def factors(module, rank, generator, std=0.1):
    """(down, up): [rank, in(, kh, kw)] and [out, rank(, 1, 1)]."""
    if isinstance(module, torch.nn.Conv2d):
        down = torch.randn(rank, module.in_channels, *module.kernel_size, generator=generator) * std
        up = torch.randn(module.out_channels, rank, 1, 1, generator=generator) * std
    else:
        down = torch.randn(rank, module.in_features, generator=generator) * std
        up = torch.randn(module.out_features, rank, generator=generator) * std
    return down, up


def text_encoders(pipe):
    encoders = [("text_encoder", pipe.text_encoder)]
    if getattr(pipe, "text_encoder_2", None) is not None:
        encoders.append(("text_encoder_2", pipe.text_encoder_2))
    return encoders


def write_lora(path, pipe, form, seed=0, rank=4, alpha=2.0, text=True, sdxl=True):
    """A random LoRA on pipe's UNet (and text encoders) in `form` ("kohya" or "diffusers")."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, module in layers(pipe.unet, UNET_LAYERS):
        down, up = factors(module, rank, generator)
        if form == "kohya":
            key = "lora_unet_" + (sgm_name(name, pipe.unet) if sdxl else name).replace(".", "_")
            tensors.update({f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                            f"{key}.alpha": torch.tensor(alpha)})
        else:
            tensors.update({f"unet.{name}.lora_A.weight": down, f"unet.{name}.lora_B.weight": up})
    encoders = text_encoders(pipe) if text else []
    for index, (component, encoder) in enumerate(encoders):
        for name, module in layers(encoder, TEXT_LAYERS):
            down, up = factors(module, rank, generator)
            if form == "kohya":
                key = ("lora_te_" if len(encoders) == 1 else f"lora_te{index + 1}_") + name.replace(".", "_")
                tensors.update({f"{key}.lora_down.weight": down, f"{key}.lora_up.weight": up,
                                f"{key}.alpha": torch.tensor(alpha)})
            else:
                tensors.update({f"{component}.{name}.lora_A.weight": down, f"{component}.{name}.lora_B.weight": up})
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return path
