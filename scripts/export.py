#!/usr/bin/env python3
"""Export a diffusers SDXL pipeline to a vsp model folder: TorchScript modules whose UNet calls
vsp::attention for every attention module, the tokenizers, and manifest.json.

  scripts/export.py --model stabilityai/stable-diffusion-xl-base-1.0 --out models/sdxl
  scripts/export.py --model path/to/diffusers_folder --out models/mine --device cuda --dtype fp16
  scripts/export.py --model path/to/sd_xl_base_1.0.safetensors --out models/sdxl
  scripts/export.py --tiny --out models/tiny          # random tiny SDXL-architecture model, for tests
  scripts/export.py --random medium --out models/medium
  scripts/export.py --random sdxl-structure --out models/sdxl-structure --save-pipeline models/sdxl-structure-diffusers
"""
import argparse
import json
import os
import shutil
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsp_export.batch_invariance import make_embeddings_row_stable  # noqa: E402
from vsp_export.op import install_processors  # noqa: E402  (registers vsp::attention)
from vsp_export.trace import TextEncoder, UNet, VaeDecoder, VaeEncoder, audit, trace  # noqa: E402

FORMAT_VERSION = 1
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def load_pipeline(args):
    from diffusers import StableDiffusionXLPipeline
    if args.random:
        from vsp_export.random_models import build_random_pipeline
        return build_random_pipeline(args.random), f"random-{args.random}"
    source = args.model
    if source.endswith(".safetensors") or source.endswith(".ckpt"):
        if not os.path.isfile(source):
            sys.exit(f"error: no such checkpoint file: {source}")
        return StableDiffusionXLPipeline.from_single_file(source, torch_dtype=torch.float32), source
    if os.path.isdir(source) and not os.path.isfile(os.path.join(source, "model_index.json")):
        sys.exit(f"error: {source} is not a diffusers pipeline folder (no model_index.json)")
    return StableDiffusionXLPipeline.from_pretrained(source, torch_dtype=torch.float32), source


def save_tokenizer(tokenizer, folder):
    """The tokenizer's own files plus vocab.json and merges.txt, which the C++ tokenizer reads
    (transformers 5 saves only tokenizer.json)."""
    tokenizer.save_pretrained(folder)
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(model["vocab"], f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for merge in model["merges"]:
            f.write((merge if isinstance(merge, str) else " ".join(merge)) + "\n")


def text_encoder_info(file, tokenizer_folder, tokenizer, encoder):
    return {"file": file, "tokenizer": tokenizer_folder, "hidden_size": encoder.config.hidden_size,
            "pad_id": int(tokenizer.pad_token_id),
            "max_length": min(tokenizer.model_max_length, encoder.config.max_position_embeddings)}


def export(pipe, source, out, device, dtype_name):
    dtype = DTYPES[dtype_name]
    # The SDXL VAE overflows in fp16: keep it in fp32 unless the checkpoint says it is fp16-safe.
    vae_dtype = dtype if (dtype != torch.float16 or not pipe.vae.config.force_upcast) else torch.float32
    unet, vae = pipe.unet.to(device, dtype), pipe.vae.to(device, vae_dtype)
    te1, te2 = pipe.text_encoder.to(device, dtype), pipe.text_encoder_2.to(device, dtype)

    vae_scale = 2 ** (len(vae.config.block_out_channels) - 1)
    levels = len(unet.config.block_out_channels)
    size_multiple = vae_scale * 2 ** (levels - 1)
    default_size = unet.config.sample_size * vae_scale
    latent = unet.config.sample_size
    time_dim = unet.config.projection_class_embeddings_input_dim - te2.config.projection_dim
    example = (
        torch.randn(2, unet.config.in_channels, latent, latent, device=device, dtype=dtype),
        torch.tensor(999.0, device=device, dtype=torch.float32),
        torch.randn(2, 77, unet.config.cross_attention_dim, device=device, dtype=dtype),
        torch.randn(2, te2.config.projection_dim, device=device, dtype=dtype),
        torch.tensor([[default_size, default_size, 0, 0, default_size, default_size]] * 2, device=device, dtype=dtype),
    )
    make_embeddings_row_stable(unet)
    unet_module = UNet(unet)
    table = install_processors(unet, lambda: unet_module(*example))
    assert time_dim % 6 == 0

    ids = torch.full((1, 77), 49407, dtype=torch.long, device=device)
    ids[0, 0] = 49406
    image = torch.rand(1, 3, default_size, default_size, device=device, dtype=vae_dtype) * 2 - 1
    modules = {
        "text_encoder.pt": (TextEncoder(te1), (ids,), None),
        "text_encoder_2.pt": (TextEncoder(te2), (ids,), None),
        "unet.pt": (unet_module, example, len(table)),
        "vae_encoder.pt": (VaeEncoder(vae), (image,), None),
        "vae_decoder.pt": (VaeDecoder(vae), (torch.randn(1, 4, latent, latent, device=device, dtype=vae_dtype),), None),
    }
    staging = out.rstrip("/") + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    for filename, (module, inputs, attention_calls) in modules.items():
        started = time.time()
        traced = trace(module, inputs)
        audit(traced, filename, attention_calls)
        traced.save(os.path.join(staging, filename))
        print(f"[export] {filename} traced in {time.time() - started:.1f}s", flush=True)
    save_tokenizer(pipe.tokenizer, os.path.join(staging, "tokenizer"))
    save_tokenizer(pipe.tokenizer_2, os.path.join(staging, "tokenizer_2"))

    import diffusers
    import transformers
    manifest = {
        "format": "vsp-model",
        "format_version": FORMAT_VERSION,
        "family": "sdxl",
        "source": source,
        "exporter": {"torch": torch.__version__, "diffusers": diffusers.__version__,
                     "transformers": transformers.__version__},
        "device": device,
        "dtype": dtype_name,
        "vae_dtype": {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[vae_dtype],
        "latent_channels": unet.config.in_channels,
        "vae_scale_factor": vae_scale,
        "scaling_factor": vae.config.scaling_factor,
        "size_multiple": size_multiple,
        "default_size": default_size,
        "force_zeros_for_empty_prompt": bool(pipe.config.force_zeros_for_empty_prompt),
        "scheduler": {k: v for k, v in dict(pipe.scheduler.config).items() if not k.startswith("_")},
        "text_encoders": [
            text_encoder_info("text_encoder.pt", "tokenizer", pipe.tokenizer, te1),
            dict(text_encoder_info("text_encoder_2.pt", "tokenizer_2", pipe.tokenizer_2, te2),
                 pooled_size=te2.config.projection_dim),
        ],
        "unet": {"file": "unet.pt", "in_channels": unet.config.in_channels,
                 "cross_attention_dim": unet.config.cross_attention_dim,
                 "addition_time_embed_dim": time_dim // 6,
                 "inputs": ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids"]},
        "vae": {"encoder": "vae_encoder.pt", "decoder": "vae_decoder.pt",
                "tile_size": vae.config.sample_size if isinstance(vae.config.sample_size, int) else vae.config.sample_size[0]},
        "attention_layers": table,
    }
    with open(os.path.join(staging, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    # The folder appears whole or not at all.
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    print(f"[export] wrote {out}: {len(table)} attention layers "
          f"({sum(r['kind'] == 'self' for r in table)} self), {device}, {dtype_name}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="hub id, local diffusers folder, or single .safetensors file")
    source.add_argument("--tiny", action="store_const", const="tiny", dest="random",
                        help="random tiny SDXL-architecture model (fixed seed), for tests")
    source.add_argument("--random", choices=["tiny", "medium", "sdxl-structure", "full"],
                        help="random model of the given size: tiny (tests), medium (quick benchmarks), "
                             "sdxl-structure (SDXL's layers at reduced width: CPU benchmarks), full (SDXL size)")
    parser.add_argument("--out", required=True, help="model folder to write, e.g. models/sdxl")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="trace on this device: the runtime must use the same one")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    parser.add_argument("--save-pipeline", metavar="DIR",
                        help="also save the diffusers pipeline (the same weights) to DIR, for parity tests")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: --device cuda but this PyTorch has no CUDA device; export with --device cpu")
    if args.device == "cpu" and args.dtype == "fp16":
        print("[export] warning: fp16 on CPU is slow and poorly supported; prefer fp32 or bf16", file=sys.stderr)
    torch.set_grad_enabled(False)
    pipe, source_name = load_pipeline(args)
    if args.save_pipeline:
        pipe.save_pretrained(args.save_pipeline)
    export(pipe, source_name, args.out, args.device, args.dtype)


if __name__ == "__main__":
    main()
