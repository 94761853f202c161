#!/usr/bin/env python3
"""Export a diffusers SD 1.x, SD 2.x or SDXL pipeline to a vsp model folder: TorchScript modules
whose UNet calls vsp::attention for every attention module, the tokenizers, and manifest.json.
The family is detected (override with --family sd1|sd2|sdxl). A single .safetensors/.ckpt file
exports with no network: its configs ship in configs/diffusers (see vsp_export/single_file.py);
hub ids need the Hugging Face hub. Output: progress lines and one-line errors (--verbose: the
libraries' warnings and tracebacks too).

  scripts/export.py --model stabilityai/stable-diffusion-xl-base-1.0 --out models/sdxl
  scripts/export.py --model stable-diffusion-v1-5/stable-diffusion-v1-5 --out models/sd15
  scripts/export.py --model stabilityai/stable-diffusion-2-1 --out models/sd21
  scripts/export.py --model v1-5-pruned-emaonly.safetensors --out models/sd15
  scripts/export.py --model path/to/diffusers_folder --out models/mine --device cuda --dtype fp16
  scripts/export.py --model path/to/sd_xl_base_1.0.safetensors --out models/sdxl
  scripts/export.py --tiny --out models/tiny          # random tiny SDXL-architecture model, for tests
  scripts/export.py --random medium --out models/medium
  scripts/export.py --random sdxl-structure --out models/sdxl-structure --save-pipeline models/sdxl-structure-diffusers
  scripts/export.py --random sd1-tiny --out models/sd1-tiny       # also sd1-medium, sd2-tiny, sd2-medium
"""
import argparse
import json
import os
import shutil
import sys
import time

# transformers warns on import that torchvision is missing (it is not needed here): keep the
# exporter's errors to one line.
if "--verbose" not in sys.argv[1:]:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vsp_export.batch_invariance import make_embeddings_row_stable  # noqa: E402
from vsp_export.messages import fail, first_line, hub_source, looks_like_hub_id, progress, quiet_libraries  # noqa: E402
from vsp_export.op import install_processors  # noqa: E402  (registers vsp::attention)
from vsp_export.random_models import RANDOM_SIZES  # noqa: E402
from vsp_export.single_file import PREDICTION_TYPES, SUPPORTED, is_single_file, load_single_file  # noqa: E402
from vsp_export.trace import (ControlNet, DepthEstimator, TextEncoder, UNet, UNetWithAddedConditioning, VaeDecoder,  # noqa: E402
                              VaeEncoder, audit, residual_shapes, trace)

FORMAT_VERSION = 2
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# What differs between the families, as diffusers' pipelines have it: the pipeline class, and the
# hidden state the UNet is conditioned on (SD 1.x/2.x without clip_skip: the final, layer-normed one).
FAMILIES = {
    "sd1": dict(pipeline="StableDiffusionPipeline", hidden_state="final", name="SD 1.x"),
    "sd2": dict(pipeline="StableDiffusionPipeline", hidden_state="final", name="SD 2.x"),
    "sdxl": dict(pipeline="StableDiffusionXLPipeline", hidden_state="penultimate", name="SDXL"),
}


def pipeline_class(family):
    import diffusers
    return getattr(diffusers, FAMILIES[family]["pipeline"])


def family_of(pipe, source):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    if isinstance(pipe, StableDiffusionXLPipeline):
        return "sdxl"
    if isinstance(pipe, StableDiffusionPipeline):
        # SD 2.x conditions on OpenCLIP ViT-H, whose activation is gelu; SD 1.x on CLIP ViT-L, quick_gelu.
        return "sd2" if pipe.text_encoder.config.hidden_act == "gelu" else "sd1"
    fail(f"{source} is a {type(pipe).__name__}; vsp exports {SUPPORTED}")


def load_pipeline(args):
    """(pipeline, family, provenance for the manifest: never the user's directory layout)."""
    if args.random:
        from vsp_export.random_models import build_random_pipeline, random_family
        return build_random_pipeline(args.random), random_family(args.random), {"source": f"random-{args.random}"}
    source = args.model
    if is_single_file(source):
        pipe, family, provenance = load_single_file(source, pipeline_class, args.family, args.prediction_type,
                                                    args.config)
    elif os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, "model_index.json")):
            fail(f"{source} is not a diffusers pipeline folder (no model_index.json)")
        progress(f"loading {source}")
        pipe, family = from_pretrained(args, source)
        provenance = {"source": os.path.basename(os.path.normpath(source))}
    elif looks_like_hub_id(source):
        progress(f"loading {source} from the Hugging Face hub")
        with hub_source(source):
            pipe, family = from_pretrained(args, source)
        provenance = {"source": source}
    else:
        fail(f"no such model folder or file: {source} (give a diffusers folder, a .safetensors/.ckpt file "
             "or a hub id such as stabilityai/stable-diffusion-xl-base-1.0)")
    if args.prediction_type and pipe.scheduler.config.prediction_type != args.prediction_type:
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, prediction_type=args.prediction_type)
    return pipe, family, provenance


def from_pretrained(args, source):
    if args.family:
        return pipeline_class(args.family).from_pretrained(source, torch_dtype=torch.float32), args.family
    from diffusers import DiffusionPipeline
    pipe = DiffusionPipeline.from_pretrained(source, torch_dtype=torch.float32)
    return pipe, family_of(pipe, source)


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


def text_encoder_info(file, tokenizer_folder, tokenizer, encoder, hidden_state):
    return {"file": file, "tokenizer": tokenizer_folder, "hidden_size": encoder.config.hidden_size,
            "hidden_state": hidden_state, "pad_id": int(tokenizer.pad_token_id),
            "max_length": min(tokenizer.model_max_length, encoder.config.max_position_embeddings)}


CONTROL_KINDS = ["canny", "depth"]


def load_controlnets(args, pipe, family):
    """{kind: ControlNetModel}: --controlnet KIND=SOURCE (a hub id, folder or single file), or for
    --random tiny and medium (SDXL) random ones built from the UNet."""
    if args.random:
        # The tests' and quick benchmarks' models; the large random ones stay lean.
        if args.random not in ("tiny", "medium"):
            return {}
        from vsp_export.random_models import build_random_controlnets
        return build_random_controlnets(pipe.unet, CONTROL_KINDS)
    controlnets = {}
    for spec in args.controlnet or []:
        kind, _, source = spec.partition("=")
        if kind not in CONTROL_KINDS or not source:
            fail(f"--controlnet takes KIND=SOURCE with KIND one of {', '.join(CONTROL_KINDS)}, got '{spec}'")
        if family != "sdxl":
            fail(f"--controlnet exports SDXL ControlNets, but {args.model} is {FAMILIES[family]['name']}")
        from diffusers import ControlNetModel
        with hub_source(source):
            if is_single_file(source):
                controlnets[kind] = ControlNetModel.from_single_file(source, torch_dtype=torch.float32)
            else:
                controlnets[kind] = ControlNetModel.from_pretrained(source, torch_dtype=torch.float32)
    return controlnets


RESAMPLING = {2: "bilinear", 3: "bicubic"}  # PIL's codes, as image processors store them


def load_depth_estimator(args):
    """(DPTForDepthEstimation, its image processor, its manifest entry) from --depth-model, a tiny
    random one for --random tiny and medium, or None."""
    if args.random:
        if args.random not in ("tiny", "medium"):
            return None
        from vsp_export.random_models import build_random_depth_estimator
        estimator, processor = build_random_depth_estimator()
        return estimator, processor, depth_estimator_info(processor)
    if not args.depth_model:
        return None
    from transformers import AutoImageProcessor, DPTForDepthEstimation
    try:
        with hub_source(args.depth_model):
            estimator = DPTForDepthEstimation.from_pretrained(args.depth_model, torch_dtype=torch.float32)
            processor = AutoImageProcessor.from_pretrained(args.depth_model)
    except (OSError, ValueError) as e:
        fail(f"--depth-model {args.depth_model}: cannot load a DPT depth estimator "
                 f"({str(e).splitlines()[0]}); give a hub id or folder such as Intel/dpt-hybrid-midas")
    return estimator, processor, depth_estimator_info(processor)


def depth_estimator_info(processor):
    """What the runtime needs to prepare an image as the processor does: a fixed resize, rescale
    and normalisation. Processors that keep the aspect ratio or pad are refused: their input size
    depends on the image."""
    config = processor.to_dict()
    if config.get("keep_aspect_ratio") or config.get("do_pad") or config.get("ensure_multiple_of", 1) != 1:
        fail("--depth-model: its image processor keeps the aspect ratio or pads, which vsp does not "
                 "reproduce; use a DPT whose processor resizes to a fixed size (e.g. Intel/dpt-hybrid-midas)")
    size = config["size"]
    height, width = (size["height"], size["width"]) if isinstance(size, dict) else (size, size)
    resample = RESAMPLING.get(int(config.get("resample", 2)))
    if resample is None or not config.get("do_resize", True):
        fail(f"--depth-model: resampling {config.get('resample')} (or no resize) is not supported; "
                 "vsp reproduces bilinear and bicubic resizing")
    normalize = config.get("do_normalize", True)
    return {"file": "depth_estimator.pt", "height": int(height), "width": int(width), "resample": resample,
            "rescale": float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True) else 1.0,
            "mean": [float(v) for v in config["image_mean"]] if normalize else [0.0] * 3,
            "std": [float(v) for v in config["image_std"]] if normalize else [1.0] * 3}


def export(pipe, family, provenance, out, device, dtype_name, controlnets, depth):
    source = provenance["source"]
    dtype = DTYPES[dtype_name]
    # The SDXL VAE overflows in fp16: keep it in fp32 unless the checkpoint says it is fp16-safe.
    vae_dtype = dtype if (dtype != torch.float16 or not pipe.vae.config.force_upcast) else torch.float32
    unet, vae = pipe.unet.to(device, dtype), pipe.vae.to(device, vae_dtype)
    hidden_state = FAMILIES[family]["hidden_state"]
    # (module, tokenizer) per text encoder; SDXL's second gives the pooled embedding.
    encoders = [(pipe.text_encoder.to(device, dtype), pipe.tokenizer)]
    if family == "sdxl":
        encoders.append((pipe.text_encoder_2.to(device, dtype), pipe.tokenizer_2))
    added_conditioning = unet.config.addition_embed_type == "text_time"
    if added_conditioning != (family == "sdxl"):
        fail(f"{source} is detected as {FAMILIES[family]['name']} but its UNet "
                 f"{'takes' if added_conditioning else 'lacks'} SDXL's added conditioning; pass the right --family")

    vae_scale = 2 ** (len(vae.config.block_out_channels) - 1)
    levels = len(unet.config.block_out_channels)
    size_multiple = vae_scale * 2 ** (levels - 1)
    default_size = unet.config.sample_size * vae_scale
    latent = unet.config.sample_size
    example = [
        torch.randn(2, unet.config.in_channels, latent, latent, device=device, dtype=dtype),
        torch.tensor(999.0, device=device, dtype=torch.float32),
        torch.randn(2, 77, unet.config.cross_attention_dim, device=device, dtype=dtype),
    ]
    if added_conditioning:
        pooled_size = encoders[-1][0].config.projection_dim
        example += [torch.randn(2, pooled_size, device=device, dtype=dtype),
                    torch.tensor([[default_size, default_size, 0, 0, default_size, default_size]] * 2, device=device,
                                 dtype=dtype)]
    down_shapes, mid_shape = residual_shapes(unet)
    residual = lambda channels, level: torch.zeros(2, channels, latent >> level, latent >> level, device=device,  # noqa: E731
                                                   dtype=dtype)
    residuals = (tuple(residual(*shape) for shape in down_shapes), residual(*mid_shape))
    make_embeddings_row_stable(unet)
    unet_module = (UNetWithAddedConditioning if added_conditioning else UNet)(unet)
    table = install_processors(unet, lambda: unet_module(*example, *residuals))

    ids = torch.full((1, 77), 49407, dtype=torch.long, device=device)
    ids[0, 0] = 49406
    image = torch.rand(1, 3, default_size, default_size, device=device, dtype=vae_dtype) * 2 - 1
    encoder_files = ["text_encoder.pt", "text_encoder_2.pt"][:len(encoders)]
    modules = {file: (TextEncoder(encoder), (ids,), None) for file, (encoder, _) in zip(encoder_files, encoders)}
    modules.update({
        "unet.pt": (unet_module, (*example, *residuals), len(table)),
        "vae_encoder.pt": (VaeEncoder(vae), (image,), None),
        "vae_decoder.pt": (VaeDecoder(vae), (torch.randn(1, 4, latent, latent, device=device, dtype=vae_dtype),), None),
    })
    control_image = torch.rand(2, 3, default_size, default_size, device=device, dtype=dtype)
    for kind, controlnet in controlnets.items():
        controlnet = controlnet.to(device, dtype).eval()
        make_embeddings_row_stable(controlnet)
        modules[f"controlnet_{kind}.pt"] = (ControlNet(controlnet), (*example, control_image), None)
    depth_info = None
    if depth:
        estimator, _, depth_info = depth
        pixels = torch.rand(1, 3, depth_info["height"], depth_info["width"], device=device, dtype=dtype) * 2 - 1
        modules[depth_info["file"]] = (DepthEstimator(estimator.to(device, dtype).eval()), (pixels,), None)
    staging = out.rstrip("/") + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    for filename, (module, inputs, attention_calls) in modules.items():
        started = time.time()
        traced = trace(module, inputs)
        audit(traced, filename, attention_calls)
        traced.save(os.path.join(staging, filename))
        progress(f"{filename} traced in {time.time() - started:.1f}s")
    text_encoders = []
    for index, (file, (encoder, tokenizer)) in enumerate(zip(encoder_files, encoders)):
        folder = "tokenizer" if index == 0 else f"tokenizer_{index + 1}"
        save_tokenizer(tokenizer, os.path.join(staging, folder))
        text_encoders.append(text_encoder_info(file, folder, tokenizer, encoder, hidden_state))
    if added_conditioning:
        text_encoders[-1]["pooled_size"] = encoders[-1][0].config.projection_dim

    manifest = {
        "format": "vsp-model",
        "format_version": FORMAT_VERSION,
        "family": family,
        **provenance,
        "exporter": {"torch": torch.__version__},
        "device": device,
        "dtype": dtype_name,
        "vae_dtype": {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[vae_dtype],
        "latent_channels": unet.config.in_channels,
        "vae_scale_factor": vae_scale,
        "scaling_factor": vae.config.scaling_factor,
        "size_multiple": size_multiple,
        "default_size": default_size,
        # SD 1.x/2.x pipelines encode "" when no negative prompt is given; SDXL's says in its config.
        "force_zeros_for_empty_prompt": bool(getattr(pipe.config, "force_zeros_for_empty_prompt", False)),
        "scheduler": {k: v for k, v in dict(pipe.scheduler.config).items() if not k.startswith("_")},
        "text_encoders": text_encoders,
        "unet": {"file": "unet.pt", "cross_attention_dim": unet.config.cross_attention_dim,
                 "added_conditioning": added_conditioning, "inputs": unet_module.INPUTS,
                 "residuals": {"down": [list(shape) for shape in down_shapes], "mid": list(mid_shape)}},
        "controlnets": [{"kind": kind, "file": f"controlnet_{kind}.pt", "inputs": ControlNet.INPUTS}
                        for kind in controlnets],
        **({"depth_estimator": depth_info} if depth_info else {}),
        "vae": {"encoder": "vae_encoder.pt", "decoder": "vae_decoder.pt",
                "tile_size": vae.config.sample_size if isinstance(vae.config.sample_size, int) else vae.config.sample_size[0]},
        "attention_layers": table,
    }
    with open(os.path.join(staging, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    # The folder appears whole or not at all.
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    progress(f"wrote {out}: {FAMILIES[family]['name']}, {len(table)} attention layers "
             f"({sum(r['kind'] == 'self' for r in table)} self), {device}, {dtype_name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="hub id, local diffusers folder, or single .safetensors file")
    source.add_argument("--tiny", action="store_const", const="tiny", dest="random",
                        help="random tiny SDXL-architecture model (fixed seed), for tests")
    source.add_argument("--random", choices=RANDOM_SIZES,
                        help="random model: SDXL-shaped tiny (tests), medium (quick benchmarks), sdxl-structure "
                             "(SDXL's layers at reduced width: CPU benchmarks), full (SDXL size); sd1-tiny, "
                             "sd1-medium, sd2-tiny, sd2-medium (SD 1.x / SD 2.x v-prediction shapes)")
    parser.add_argument("--controlnet", action="append", metavar="KIND=SOURCE",
                        help="also export an SDXL ControlNet (repeatable): KIND canny or depth, SOURCE a hub id, "
                             "folder or single file, e.g. canny=diffusers/controlnet-canny-sdxl-1.0. "
                             "--random tiny and medium get random ones of both kinds")
    parser.add_argument("--depth-model", metavar="SOURCE",
                        help="also export a DPT depth estimator for --control depth: a hub id or folder, e.g. "
                             "Intel/dpt-hybrid-midas (the paper's). --random tiny and medium get a tiny random one")
    parser.add_argument("--family", choices=sorted(FAMILIES),
                        help="the model family, when detection from the checkpoint or folder is wrong or fails")
    parser.add_argument("--prediction-type", choices=PREDICTION_TYPES,
                        help="what the UNet predicts, when the guess is wrong: for a single SD 2.x file it picks the "
                             "config (epsilon: 2.x base 512, v_prediction: 2.x 768); for any --model it overrides "
                             "the scheduler's")
    parser.add_argument("--config", metavar="DIR",
                        help="with a single-file --model: a diffusers folder whose configs (not weights) to use, "
                             "instead of the ones shipped in configs/diffusers")
    parser.add_argument("--out", required=True, help="model folder to write, e.g. models/sdxl")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="trace on this device: the runtime must use the same one")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    parser.add_argument("--save-pipeline", metavar="DIR",
                        help="also save the diffusers pipeline (the same weights) to DIR, for parity tests")
    parser.add_argument("--verbose", action="store_true",
                        help="show the libraries' warnings and logging, and tracebacks with errors")
    args = parser.parse_args()
    quiet_libraries(args.verbose)
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda but this PyTorch has no CUDA device; export with --device cpu")
    if args.device == "cpu" and args.dtype == "fp16":
        print("[export] warning: fp16 on CPU is slow and poorly supported; prefer fp32 or bf16", file=sys.stderr)
    torch.set_grad_enabled(False)
    if args.random and (args.family or args.controlnet or args.depth_model):
        parser.error("--family, --controlnet and --depth-model apply to --model; a --random model's family is in "
                     "its name, and a random SDXL model gets random ControlNets and depth estimator")
    if args.config and not (args.model and is_single_file(args.model)):
        parser.error("--config applies to a single-file --model (.safetensors or .ckpt)")
    if args.random and args.prediction_type:
        parser.error("--prediction-type applies to --model")
    pipe, family, provenance = load_pipeline(args)
    controlnets = load_controlnets(args, pipe, family)
    depth = load_depth_estimator(args)
    if args.save_pipeline:
        pipe.save_pretrained(args.save_pipeline)
        for kind, controlnet in controlnets.items():
            controlnet.save_pretrained(os.path.join(args.save_pipeline, f"controlnet_{kind}"))
        if depth:
            for part in depth[:2]:
                part.save_pretrained(os.path.join(args.save_pipeline, "depth_estimator"))
    export(pipe, family, provenance, args.out, args.device, args.dtype, controlnets, depth)


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # an unforeseen failure: one line, or with --verbose the traceback
        if "--verbose" in sys.argv[1:]:
            raise
        fail(first_line(error))
