"""Offline export from one .safetensors file (issue 24): tiny random pipelines written in the
original single-file layout (single_file.py) export with the network blocked and give the same
modules, and images, as exporting their diffusers folders; the configs shipped in
configs/diffusers describe the real models; hub ids and bad files fail in one line."""
import copy
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import vsp_export.op  # noqa: F401  (registers vsp::attention so the TorchScript files load)
from conftest import BUILD, ROOT
from single_file import pipeline_to_ldm, unet_to_ldm, write_single_file
from vsp_export.single_file import CONFIGS, config_name, detect_family, guess_prediction_type, write_config_folder

NO_NETWORK = ROOT / "tests" / "python" / "no_network"
FAMILIES = ["sdxl", "sd1", "sd2"]


def export(*args, offline=False, log=None):
    """scripts/export.py in a subprocess; offline: HF_HUB_OFFLINE=1 and every socket connection or
    name lookup refused and logged to `log` (no_network/sitecustomize.py)."""
    env = dict(os.environ)
    if offline:
        env.update(HF_HUB_OFFLINE="1", VSP_NETWORK_LOG=str(log),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(NO_NETWORK), env.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "export.py"), *map(str, args)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)


def one_error_line(result, *words):
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("export.py: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def random_pipeline(family):
    """The tiny random pipelines of scripts/export.py --random. The SDXL one gets a second text
    encoder wider than the first, as in the real model: with equal widths (the tests' `tiny`)
    diffusers' single-file loader takes CLIP-L's weights for both encoders."""
    from vsp_export import random_models
    if family != "sdxl":
        return random_models.build_random_pipeline(f"{family}-tiny")
    spec = copy.deepcopy(random_models.SIZES["tiny"])
    spec["text_2"]["hidden_size"] = 48
    spec["unet"]["cross_attention_dim"] = spec["text"]["hidden_size"] + 48
    random_models.SIZES["tiny-distinct-encoders"] = spec
    try:
        return random_models.build_random_pipeline("tiny-distinct-encoders")
    finally:
        del random_models.SIZES["tiny-distinct-encoders"]


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory):
    """{family: (diffusers folder, single file)} for each tiny random pipeline."""
    torch.set_grad_enabled(False)
    made = {}
    for family in FAMILIES:
        folder = tmp_path_factory.mktemp(family)
        pipe = random_pipeline(family)
        pipe.save_pretrained(folder / "diffusers")
        made[family] = (folder / "diffusers", write_single_file(pipe, family, folder / f"{family}-tiny.safetensors"))
    return made


@pytest.mark.parametrize("family", FAMILIES)
def test_written_single_file_loads_back_to_the_same_weights(pipelines, family):
    """The converter is the inverse of diffusers' own single-file conversion."""
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    cls = StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline
    folder, checkpoint = pipelines[family]
    original = cls.from_pretrained(folder)
    loaded = cls.from_single_file(str(checkpoint), config=str(folder), local_files_only=True)
    for part in ["unet", "vae", "text_encoder"] + (["text_encoder_2"] if family == "sdxl" else []):
        ours, theirs = getattr(original, part).state_dict(), getattr(loaded, part).state_dict()
        assert ours.keys() == theirs.keys(), part
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), part


def module_inputs(manifest):
    """{file: inputs} for every exported module, drawn from the manifest's sizes (seeded)."""
    torch.manual_seed(5)
    latent = manifest["default_size"] // manifest["vae_scale_factor"]
    unet = manifest["unet"]
    residual = lambda channels, level: torch.randn(2, channels, latent >> level, latent >> level)  # noqa: E731
    inputs = [torch.randn(2, 4, latent, latent), torch.tensor(321.0), torch.randn(2, 77, unet["cross_attention_dim"])]
    if unet["added_conditioning"]:
        inputs += [torch.randn(2, manifest["text_encoders"][-1]["pooled_size"]), torch.randn(2, 6)]
    inputs += [tuple(residual(*shape) for shape in unet["residuals"]["down"]), residual(*unet["residuals"]["mid"])]
    ids = torch.randint(0, 49406, (1, 77))
    ids[0, 0], ids[0, 9:] = 49406, 49407
    size = manifest["default_size"]
    modules = {entry["file"]: (ids,) for entry in manifest["text_encoders"]}
    modules.update({"unet.pt": tuple(inputs), "vae_encoder.pt": (torch.rand(1, 3, size, size) * 2 - 1,),
                    "vae_decoder.pt": (torch.randn(1, 4, latent, latent),)})
    return modules


def run_module(path, inputs):
    out = torch.jit.load(str(path))(*inputs)
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("family", FAMILIES)
def test_single_file_exports_offline_like_its_diffusers_folder(pipelines, family, tmp_path):
    folder, checkpoint = pipelines[family]
    from_folder = export("--model", folder, "--out", tmp_path / "folder")
    assert from_folder.returncode == 0, from_folder.stderr
    log = tmp_path / "network.log"
    result = export("--model", checkpoint, "--config", folder, "--out", tmp_path / "file", offline=True, log=log)
    assert result.returncode == 0, result.stderr
    assert not log.exists(), log.read_text()  # not one connection or name lookup was tried
    # Only the exporter's own lines: no warnings, logging or progress bars.
    assert result.stderr == "", result.stderr
    assert all(line.startswith("[export] ") for line in result.stdout.splitlines()), result.stdout
    assert f"[export] wrote {tmp_path / 'file'}" in result.stdout

    ours, theirs = (json.loads((tmp_path / name / "manifest.json").read_text()) for name in ("file", "folder"))
    assert ours["source"] == checkpoint.name and theirs["source"] == "diffusers"
    assert ours["source_sha256_10"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:10]
    assert "source_sha256_10" not in theirs
    for key in set(ours) - {"source", "source_sha256_10"}:
        assert ours[key] == theirs[key], key
    for file, inputs in module_inputs(ours).items():
        a, b = run_module(tmp_path / "file" / file, inputs), run_module(tmp_path / "folder" / file, inputs)
        assert all(torch.equal(x, y) for x, y in zip(a, b)), file
    for tokenizer in [entry["tokenizer"] for entry in ours["text_encoders"]]:
        for name in ("vocab.json", "merges.txt"):
            assert (tmp_path / "file" / tokenizer / name).read_bytes() == \
                (tmp_path / "folder" / tokenizer / name).read_bytes()

    vsp = BUILD / "vsp"
    if not vsp.exists():
        pytest.skip(f"{vsp} is missing (being rebuilt?): the TorchScript modules were compared, not the images")
    from PIL import Image
    images = []
    for name in ("file", "folder"):
        args = ["generate", "--model", tmp_path / name, "--prompt", "a red fox in the snow", "--steps", 2, "--seed", 3,
                "--out", tmp_path / f"{name}.png", "--quiet"]
        subprocess.run([str(vsp), *map(str, args)], check=True, capture_output=True, stdin=subprocess.DEVNULL)
        images.append(np.asarray(Image.open(tmp_path / f"{name}.png")))
    assert np.array_equal(*images)


class Shapes:
    """A checkpoint known by its tensor names and shapes only (what detection reads)."""

    def __init__(self, state, path="model.safetensors"):
        self.path, self.state = path, state
        self.shapes = {key: tuple(value.shape) for key, value in state.items()}

    def __contains__(self, key):
        return key in self.shapes

    def tensor(self, key):
        return self.state[key]


def real_sized_pipeline(name):
    """The shipped configs' models with no weights (meta tensors), in the single-file layout."""
    from types import SimpleNamespace

    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
    config = CONFIGS + "/" + name
    with torch.device("meta"):
        pipe = SimpleNamespace(
            unet=UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(config, subfolder="unet")),
            vae=AutoencoderKL.from_config(AutoencoderKL.load_config(config, subfolder="vae")),
            text_encoder=CLIPTextModel(CLIPTextConfig.from_pretrained(config, subfolder="text_encoder")))
        if name == "sdxl-base":
            pipe.text_encoder_2 = CLIPTextModelWithProjection(
                CLIPTextConfig.from_pretrained(config, subfolder="text_encoder_2"))
    return pipe


# Tensor shapes of the published single files (sd_xl_base_1.0, v1-5-pruned-emaonly, v2-1_768 / 512-base).
PUBLISHED = {
    "sdxl-base": {"model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (640, 2048),
                  "model.diffusion_model.label_emb.0.0.weight": (1280, 2816),
                  "conditioner.embedders.1.model.text_projection": (1280, 1280),
                  "conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight": (3840, 1280),
                  "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": (49408, 768)},
    "sd15": {"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
             "model.diffusion_model.input_blocks.1.1.proj_in.weight": (320, 320, 1, 1),
             "first_stage_model.decoder.mid.attn_1.q.weight": (512, 512, 1, 1),
             "cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc1.weight": (3072, 768)},
    "sd2-base": {"model.diffusion_model.input_blocks.1.1.proj_in.weight": (320, 320),
                 "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 1024),
                 "cond_stage_model.model.transformer.resblocks.22.attn.in_proj_weight": (3072, 1024)},
}
PUBLISHED["sd2-v"] = PUBLISHED["sd2-base"]
FACTS = {  # (unet cross_attention_dim, sample_size, prediction_type, vae scaling_factor, text encoder widths)
    "sdxl-base": (2048, 128, "epsilon", 0.13025, [768, 1280]),
    "sd15": (768, 64, "epsilon", 0.18215, [768]),
    "sd2-base": (1024, 64, "epsilon", 0.18215, [1024]),
    "sd2-v": (1024, 96, "v_prediction", 0.18215, [1024]),
}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_shipped_configs_describe_the_real_models(name):
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
    from transformers import CLIPTextConfig
    config = CONFIGS + "/" + name
    cross, sample, prediction, scaling, widths = FACTS[name]
    unet = UNet2DConditionModel.load_config(config, subfolder="unet")
    assert (unet["cross_attention_dim"], unet["sample_size"]) == (cross, sample)
    assert DDIMScheduler.load_config(config, subfolder="scheduler")["prediction_type"] == prediction
    assert AutoencoderKL.load_config(config, subfolder="vae")["scaling_factor"] == scaling
    encoders = ["text_encoder", "text_encoder_2"][:len(widths)]
    assert [CLIPTextConfig.from_pretrained(config, subfolder=e).hidden_size for e in encoders] == widths
    # A checkpoint with the published layout is detected as this config's family and type...
    pipe = real_sized_pipeline(name)
    family = {"sdxl-base": "sdxl", "sd15": "sd1"}.get(name, "sd2")
    layout = Shapes(pipeline_to_ldm(pipe, family))
    for key, shape in PUBLISHED[name].items():
        assert layout.shapes.get(key) == shape, key
    assert detect_family(layout) == family
    assert config_name(family, prediction) == name
    # ...and diffusers' conversion maps it onto this config's UNet, tensor for tensor.
    converted = convert_ldm_unet_checkpoint(unet_to_ldm(pipe.unet), dict(pipe.unet.config))
    assert {k: v.shape for k, v in converted.items()} == {k: v.shape for k, v in pipe.unet.state_dict().items()}


@pytest.mark.parametrize("name", sorted(FACTS))
def test_shipped_tokenizers_give_clip_ids_offline(name, tmp_path):
    """openai/clip-vit-large-patch14's ids for "a photo of a cat"; SD 2.x and SDXL's tokenizer_2
    pad with "!" (id 0), CLIP-L with <|endoftext|>."""
    from transformers import CLIPTokenizer
    folder = write_config_folder(name, str(tmp_path / "config"))
    pads = {"sdxl-base": [49407, 0], "sd15": [49407]}.get(name, [0])
    for tokenizer_name, pad in zip(["tokenizer", "tokenizer_2"], pads):
        tokenizer = CLIPTokenizer.from_pretrained(os.path.join(folder, tokenizer_name), local_files_only=True)
        ids = tokenizer("a photo of a cat", padding="max_length", max_length=77).input_ids
        assert ids[:8] == [49406, 320, 1125, 539, 320, 2368, 49407, pad] and len(ids) == 77
        assert tokenizer.pad_token_id == pad and tokenizer.model_max_length == 77
        # The fixtures' tokenizers (the same vocabulary, the same pad token), which vsp's C++ tokenizer matches.
        reference = BUILD / "testdata" / "text" / ("tokenizer" if pad else "tokenizer_2")
        if reference.exists():
            reference = CLIPTokenizer.from_pretrained(str(reference), local_files_only=True)
            prompt = "A RED fox, in the snow!! 3.14 café <|endoftext|> don't"
            assert tokenizer(prompt).input_ids == reference(prompt).input_ids


def sd2_checkpoint(norm_bias_std, **extra):
    """SD 2.x-shaped tensors whose probe LayerNorm bias has the given spread."""
    torch.manual_seed(0)
    probe = "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias"
    state = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(8, 4, 3, 3),
             "cond_stage_model.model.token_embedding.weight": torch.zeros(4, 4),
             probe: torch.randn(16) * norm_bias_std, **extra}
    return Shapes(state)


@pytest.mark.parametrize("checkpoint,expected", [
    (sd2_checkpoint(0.3), "sd2-v"), (sd2_checkpoint(0.01), "sd2-base"),
    (sd2_checkpoint(0.01, v_pred=torch.zeros(0)), "sd2-v")], ids=["spread", "narrow", "v_pred-marker"])
def test_sd2_prediction_type_picks_the_config(checkpoint, expected):
    assert config_name("sd2", guess_prediction_type(checkpoint, "sd2")[0]) == expected


def test_offline_hub_id_fails_in_one_line(tmp_path):
    result = export("--model", "stabilityai/stable-diffusion-xl-base-1.0", "--out", tmp_path / "out", offline=True,
                    log=tmp_path / "network.log")
    line = one_error_line(result, "cannot reach the Hugging Face hub for 'stabilityai/stable-diffusion-xl-base-1.0'",
                          "scripts/export.py --model FILE.safetensors --out DIR")
    assert line.endswith("--out DIR")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content,words", [
    (b"not a checkpoint at all", ["cannot read the checkpoint bad.safetensors", "complete .safetensors/.ckpt"]),
    ({"conditioner.embedders.0.model.positional_embedding": (77, 1280),
      "model.diffusion_model.input_blocks.0.0.weight": (384, 4, 3, 3)}, ["SDXL refiner", "does not export"]),
], ids=["garbage", "sdxl-refiner"])
def test_unusable_file_is_refused_in_one_line(tmp_path, content, words):
    checkpoint = tmp_path / "bad.safetensors"
    if isinstance(content, bytes):
        checkpoint.write_bytes(content)
    else:
        from safetensors.torch import save_file
        save_file({name: torch.zeros(shape) for name, shape in content.items()}, str(checkpoint))
    line = one_error_line(export("--model", checkpoint, "--out", tmp_path / "out", offline=True,
                                 log=tmp_path / "network.log"), *words)
    assert str(tmp_path) not in line  # the file's name, not the user's folders
    assert not (tmp_path / "out").exists() and not (tmp_path / "network.log").exists()
