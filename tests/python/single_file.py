"""Diffusers pipelines written as original single-file checkpoints (the LDM / SGM key layout that
A1111, ComfyUI and the model sites use): the inverse of diffusers' single_file_utils conversion,
for SD 1.x, SD 2.x and SDXL base, so that the tests can make single files from the tiny random
pipelines.

    write_single_file(pipe, "model.safetensors")"""
import torch
from safetensors.torch import save_file

UNET, VAE = "model.diffusion_model.", "first_stage_model."
RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"), ("conv2", "out_layers.3"),
          ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]
UNET_TOP = {"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
            "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
            "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2"}


def _rename(state, prefixes, inner=()):
    """{new name: tensor}: each key's longest matching diffusers prefix replaced by the LDM one,
    then the `inner` (old, new) part renames applied to what follows it."""
    out = {}
    for key, value in state.items():
        prefix = max((p for p in prefixes if key.startswith(p)), key=len, default=None)
        if prefix is None:
            raise KeyError(f"no LDM name for {key}")
        rest = key[len(prefix):]
        for old, new in inner:
            if rest.startswith(old + "."):
                rest = new + rest[len(old):]
        out[prefixes[prefix] + rest] = value
    return out


def unet_to_ldm(unet):
    """UNet2DConditionModel -> model.diffusion_model.* (input_blocks / middle_block / output_blocks)."""
    config = unet.config
    levels, per_block = len(config.block_out_channels), config.layers_per_block
    prefixes = {f"{name}.": f"{ldm}." for name, ldm in UNET_TOP.items()}
    attention_up = [t.startswith("CrossAttn") for t in config.up_block_types]
    for i in range(levels):
        for j in range(per_block):
            prefixes[f"down_blocks.{i}.resnets.{j}."] = f"input_blocks.{(per_block + 1) * i + j + 1}.0."
            prefixes[f"down_blocks.{i}.attentions.{j}."] = f"input_blocks.{(per_block + 1) * i + j + 1}.1."
        prefixes[f"down_blocks.{i}.downsamplers.0.conv."] = f"input_blocks.{(per_block + 1) * (i + 1)}.0.op."
        for j in range(per_block + 1):
            prefixes[f"up_blocks.{i}.resnets.{j}."] = f"output_blocks.{(per_block + 1) * i + j}.0."
            prefixes[f"up_blocks.{i}.attentions.{j}."] = f"output_blocks.{(per_block + 1) * i + j}.1."
        prefixes[f"up_blocks.{i}.upsamplers.0."] = (f"output_blocks.{(per_block + 1) * i + per_block}."
                                                    f"{2 if attention_up[i] else 1}.")
    prefixes["mid_block.attentions.0."] = "middle_block.1."
    for j in range(2):
        prefixes[f"mid_block.resnets.{j}."] = f"middle_block.{2 * j}."
    state = _rename(unet.state_dict(), prefixes, RESNET)
    return {UNET + key: value for key, value in state.items()}


def vae_to_ldm(vae):
    """AutoencoderKL -> first_stage_model.* (encoder.down.i.block.j, decoder.up.{reversed}, mid.attn_1
    with 1x1-convolution q/k/v/proj_out)."""
    levels = len(vae.config.block_out_channels)
    prefixes = {f"{part}.": f"{part}." for part in ("quant_conv", "post_quant_conv", "encoder.conv_in",
                                                    "encoder.conv_out", "decoder.conv_in", "decoder.conv_out")}
    for side in ("encoder", "decoder"):
        prefixes[f"{side}.conv_norm_out."] = f"{side}.norm_out."
        prefixes[f"{side}.mid_block.attentions.0."] = f"{side}.mid.attn_1."
        for k in range(2):
            prefixes[f"{side}.mid_block.resnets.{k}."] = f"{side}.mid.block_{k + 1}."
    for i in range(levels):
        for j in range(vae.config.layers_per_block + 1):
            prefixes[f"encoder.down_blocks.{i}.resnets.{j}."] = f"encoder.down.{i}.block.{j}."
            prefixes[f"decoder.up_blocks.{i}.resnets.{j}."] = f"decoder.up.{levels - 1 - i}.block.{j}."
        prefixes[f"encoder.down_blocks.{i}.downsamplers.0."] = f"encoder.down.{i}.downsample."
        prefixes[f"decoder.up_blocks.{i}.upsamplers.0."] = f"decoder.up.{levels - 1 - i}.upsample."
    inner = [("conv_shortcut", "nin_shortcut"), ("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"),
             ("to_v", "v"), ("to_out.0", "proj_out")]
    state = _rename(vae.state_dict(), prefixes, inner)
    # The LDM VAE's attention projections are 1x1 convolutions.
    state = {key: value[:, :, None, None] if ".attn_1." in key and value.dim() == 2 else value
             for key, value in state.items()}
    return {VAE + key: value for key, value in state.items()}


def clip_to_ldm(encoder, prefix):
    """A CLIP-L text encoder in Hugging Face's layout under `prefix` (SD 1.x, SDXL's first)."""
    state = encoder.state_dict()
    return {prefix + (key if key.startswith("text_model.") else "text_model." + key): value
            for key, value in state.items() if not key.endswith("position_ids")}


def open_clip_to_ldm(encoder, prefix):
    """An OpenCLIP text encoder (SD 2.x, SDXL's second) in open_clip's layout under `prefix`:
    resblocks with fused in_proj q/k/v, positional_embedding, ln_final, text_projection [in, out]."""
    state = {(key if key.startswith(("text_model.", "text_projection")) else "text_model." + key): value
             for key, value in encoder.state_dict().items() if not key.endswith("position_ids")}
    out = {"token_embedding.weight": state.pop("text_model.embeddings.token_embedding.weight"),
           "positional_embedding": state.pop("text_model.embeddings.position_embedding.weight"),
           "ln_final.weight": state.pop("text_model.final_layer_norm.weight"),
           "ln_final.bias": state.pop("text_model.final_layer_norm.bias")}
    if "text_projection.weight" in state:
        out["text_projection"] = state.pop("text_projection.weight").T.contiguous()
    renames = [("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
               ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")]
    for layer in range(encoder.config.num_hidden_layers):
        old, new = f"text_model.encoder.layers.{layer}.", f"transformer.resblocks.{layer}."
        for kind in ("weight", "bias"):
            out[f"{new}attn.in_proj_{kind}"] = torch.cat([state.pop(f"{old}self_attn.{p}_proj.{kind}")
                                                          for p in ("q", "k", "v")])
            for a, b in renames:
                out[f"{new}{b}.{kind}"] = state.pop(f"{old}{a}.{kind}")
    if state:
        raise KeyError(f"no OpenCLIP name for {sorted(state)}")
    return {prefix + key: value for key, value in out.items()}


def pipeline_to_ldm(pipe, family):
    """{name: tensor} of the whole pipeline in the original single-file layout."""
    state = {**unet_to_ldm(pipe.unet), **vae_to_ldm(pipe.vae)}
    if family == "sdxl":
        state.update(clip_to_ldm(pipe.text_encoder, "conditioner.embedders.0.transformer."))
        state.update(open_clip_to_ldm(pipe.text_encoder_2, "conditioner.embedders.1.model."))
    elif family == "sd2":
        state.update(open_clip_to_ldm(pipe.text_encoder, "cond_stage_model.model."))
    else:
        state.update(clip_to_ldm(pipe.text_encoder, "cond_stage_model.transformer."))
    return state


def write_single_file(pipe, family, path):
    save_file({key: value.contiguous() for key, value in pipeline_to_ldm(pipe, family).items()}, str(path))
    return path
