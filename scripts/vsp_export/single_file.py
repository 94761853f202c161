"""Single-file checkpoints (the original LDM / SGM key layout, .safetensors or .ckpt), exported
with no network: the family and prediction type come from the tensors, and diffusers'
from_single_file gets its configs from configs/diffusers/<name> in this repository instead of
the hub.

The shipped config folders hold the published models' JSON configs only. Their tokenizer folders
hold tokenizer_config.json and special_tokens_map.json (the pad token differs: "<|endoftext|>" for
CLIP-L, "!" for SD 2.x and SDXL's tokenizer_2); the 2 MB vocab.json / merges.txt are not kept in
the repository but written into a temporary copy at export time from the CLIP BPE file that
scripts/setup.sh already fetches (clip_vocab.py), the same vocabulary as openai/clip-vit-large-patch14."""
import hashlib
import json
import os
import shutil

import torch

from clip_vocab import find_clip_vocab, read_clip_vocab
from vsp_export import messages
from vsp_export.messages import fail, first_line, progress

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "configs", "diffusers")
SUPPORTED = "SD 1.x, SD 2.x and SDXL base text-to-image checkpoints"
PREDICTION_TYPES = ["epsilon", "v_prediction"]
UNET = "model.diffusion_model."
# The text encoders' layouts in the original checkpoints (as diffusers' single_file_utils tells them apart).
SD1_CLIP = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
SD2_OPEN_CLIP = "cond_stage_model.model.token_embedding.weight"
SDXL_OPEN_CLIP = "conditioner.embedders.1.model.positional_embedding"
REFINER_OPEN_CLIP = "conditioner.embedders.0.model.positional_embedding"
# ComfyUI's SD 2.x test (supported_models.SD20.model_type): v-prediction weights leave this
# LayerNorm bias spread out (std above 0.09), epsilon ones near zero.
V_PREDICTION_PROBE = UNET + "output_blocks.11.1.transformer_blocks.0.norm1.bias"
V_PREDICTION_STD = 0.09


def is_single_file(source):
    return source.endswith(".safetensors") or source.endswith(".ckpt")


class Checkpoint:
    """A checkpoint's tensor names and shapes, and single tensors on demand, without reading all
    the weights where the format allows (safetensors; a .ckpt is memory-mapped)."""

    def __init__(self, path):
        self.path = path
        try:
            if path.endswith(".safetensors"):
                from safetensors import safe_open
                self._file = safe_open(path, "pt")
                self.shapes = {key: tuple(self._file.get_slice(key).get_shape()) for key in self._file.keys()}
            else:
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                state = state.get("state_dict", state) if isinstance(state, dict) else {}
                self._state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
                self.shapes = {key: tuple(value.shape) for key, value in self._state.items()}
        except Exception as e:  # any unreadable file: one line, not a traceback
            fail(f"cannot read the checkpoint {os.path.basename(path)} ({first_line(e)}); "
                 "is it a complete .safetensors/.ckpt file?")

    def __contains__(self, key):
        return key in self.shapes

    def tensor(self, key):
        return self._file.get_tensor(key) if hasattr(self, "_file") else self._state[key]


def detect_family(checkpoint):
    """sd1, sd2 or sdxl from the tensor names and shapes; anything else is refused in one line."""
    name = os.path.basename(checkpoint.path)
    unet_in = checkpoint.shapes.get(UNET + "input_blocks.0.0.weight")
    if unet_in is None:
        fail(f"{name} holds no Stable Diffusion UNet (no model.diffusion_model.input_blocks); vsp exports {SUPPORTED}")
    if unet_in[1] != 4:
        fail(f"{name} is not a text-to-image checkpoint (its UNet takes {unet_in[1]} input channels, an inpainting "
             f"or other variant); vsp exports {SUPPORTED}")
    if "edm_mean" in checkpoint:
        fail(f"{name} is a Playground v2.5 checkpoint (EDM), which vsp does not run; vsp exports {SUPPORTED}")
    if SDXL_OPEN_CLIP in checkpoint:
        return "sdxl"
    if REFINER_OPEN_CLIP in checkpoint:
        fail(f"{name} is an SDXL refiner checkpoint, which vsp does not export; vsp exports {SUPPORTED}")
    if SD1_CLIP in checkpoint:
        return "sd1"
    if SD2_OPEN_CLIP in checkpoint:
        return "sd2"
    # No text encoder we know: go by the UNet's text conditioning width.
    to_k = checkpoint.shapes.get(UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight")
    if to_k is None:
        fail(f"{name} is an unrecognised architecture (not SD 1.x, SD 2.x or SDXL base); vsp exports {SUPPORTED}. "
             "If you know its family, pass --family sd1|sd2|sdxl")
    if to_k[-1] in (768, 1024):
        return "sd1" if to_k[-1] == 768 else "sd2"
    fail(f"{name} has a {to_k[-1]}-wide text conditioning, unlike SD 1.x (768) and SD 2.x (1024); "
         f"vsp exports {SUPPORTED}. If you know its family, pass --family sd1|sd2|sdxl")


def guess_prediction_type(checkpoint, family):
    """(prediction type, how it was decided). A "v_pred" marker tensor (ComfyUI's convention)
    means v-prediction; SD 2.x is told apart by ComfyUI's weight test (SD 2.0/2.1 768 files are
    v-prediction, the 512 "base" ones epsilon); SD 1.x and SDXL base are epsilon."""
    if "v_pred" in checkpoint:
        return "v_prediction", "the checkpoint's v_pred marker"
    if family != "sd2":
        return "epsilon", f"{family} default"
    if V_PREDICTION_PROBE not in checkpoint:
        return "v_prediction", "SD 2.x default"
    spread = float(checkpoint.tensor(V_PREDICTION_PROBE).float().std(unbiased=False))
    return ("v_prediction" if spread > V_PREDICTION_STD else "epsilon"), "guessed from the weights"


def config_name(family, prediction_type):
    if family == "sd2":
        return "sd2-v" if prediction_type == "v_prediction" else "sd2-base"
    return {"sd1": "sd15", "sdxl": "sdxl-base"}[family]


def write_config_folder(name, folder):
    """Copies configs/diffusers/<name> to folder and completes its tokenizer folders with
    vocab.json and merges.txt from the CLIP BPE file; returns folder."""
    shutil.copytree(os.path.join(CONFIGS, name), folder)
    vocab, merges = read_clip_vocab(find_clip_vocab())
    for tokenizer in ("tokenizer", "tokenizer_2"):
        target = os.path.join(folder, tokenizer)
        if not os.path.isdir(target):
            continue
        with open(os.path.join(target, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f, ensure_ascii=False)
        with open(os.path.join(target, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
            f.writelines(f"{left} {right}\n" for left, right in merges)
    return folder


def sha256_10(path, chunk=1 << 20):
    """The first 10 hex digits of the file's sha256 (what A1111 shows as "Model hash")."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()[:10]


def load_single_file(path, pipeline_class, family=None, prediction_type=None, config=None):
    """(pipeline, family, manifest provenance) from a single-file checkpoint, with no network:
    `config` is a diffusers folder whose configs to use (e.g. a fine-tune's base model), else the
    shipped configs/diffusers folder that matches the checkpoint."""
    import tempfile
    name = os.path.basename(path)
    if not os.path.isfile(path):
        fail(f"no such checkpoint file: {path}")
    checkpoint = Checkpoint(path)
    family = family or detect_family(checkpoint)
    with tempfile.TemporaryDirectory(prefix="vsp-configs-") as temp:
        if config is None:
            if prediction_type is None:
                prediction_type, reason = guess_prediction_type(checkpoint, family)
                progress(f"{name}: {family}, {prediction_type} ({reason}; override with --prediction-type)")
            label = f"configs/diffusers/{config_name(family, prediction_type)}"
            config = write_config_folder(config_name(family, prediction_type), os.path.join(temp, "config"))
        elif not os.path.isfile(os.path.join(config, "model_index.json")):
            fail(f"--config {config} is not a diffusers folder (no model_index.json)")
        else:
            label = config
        progress(f"loading {name} with the configs of {label}")
        try:
            pipe = pipeline_class(family).from_single_file(path, config=config, torch_dtype=torch.float32,
                                                           local_files_only=True)
        except Exception as e:  # a file that does not fit the configs: one line (--verbose: the traceback)
            if messages.VERBOSE:
                raise
            mismatch = [line.strip() for line in str(e).splitlines() if "size mismatch" in line]
            fail(f"cannot load {name} as {family} with the configs of {label} "
                 f"({mismatch[0] if mismatch else first_line(e)}); if the family is wrong, pass --family; "
                 "for another architecture, --config DIR")
    # E.g. an SDXL v-prediction fine-tune: the sdxl-base configs, a v-prediction scheduler.
    if prediction_type and pipe.scheduler.config.prediction_type != prediction_type:
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, prediction_type=prediction_type)
    progress(f"hashing {name}")
    return pipe, family, {"source": name, "source_sha256_10": sha256_10(path)}
