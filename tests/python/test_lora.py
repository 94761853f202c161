"""`--lora FILE[:WEIGHT]` against diffusers' load_lora_weights + fuse_lora on the same tiny weights:
random LoRAs (lora_files.py) in kohya's format (SDXL: the SGM UNet's names) and diffusers' PEFT
format, on the UNet's linear and conv layers and the text encoders, at weights 0.5 and 1; two
LoRAs at once; final latents within 1e-4 and images within 2/255. A batch of jobs with and without
a LoRA gives each job's own images (the weights are put back); style prompting runs with one; bad
input is one line, nothing written."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from conftest import DATA, exported
from lora_files import write_lora
from test_bad_input import one_error_line, run, written
from test_generate_parity import IMAGE_TOLERANCE, LATENT_TOLERANCE
from test_output_rules import place  # noqa: F401 (a fixture)

PROMPT = "a lighthouse on a cliff"


def pipeline(family):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
    torch.set_grad_enabled(False)
    if family == "sdxl":
        return StableDiffusionXLPipeline.from_pretrained(DATA / "tiny-diffusers", torch_dtype=torch.float32)
    from diffusers import EulerDiscreteScheduler
    pipe = StableDiffusionPipeline.from_pretrained(DATA / "sd1-tiny-diffusers", torch_dtype=torch.float32)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)  # vsp_run's sampler
    return pipe


def model_of(family):
    return exported("tiny" if family == "sdxl" else "sd1-tiny")


def diffusers_run(pipe, loras, steps=4, seed=3):
    """loras: [(file, weight)], each loaded, fused at its weight and unloaded in turn."""
    for file, weight in loras:
        pipe.load_lora_weights(str(file))
        pipe.fuse_lora(lora_scale=weight)
        pipe.unload_lora_weights()
    latents = pipe(prompt=PROMPT, num_inference_steps=steps, guidance_scale=5.0, width=64, height=64,
                   generator=torch.Generator("cpu").manual_seed(seed), output_type="latent").images
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.numpy(), pipe.image_processor.postprocess(image, output_type="np")


def vsp_run(run_vsp, model, tmp_path, loras, steps=4, seed=3, name="out"):
    args = [a for file, weight in loras for a in ("--lora", f"{file}:{weight}")]
    run_vsp("generate", "--model", model, "-p", PROMPT, "--steps", steps, "--cfg", 5.0, "--seed", seed, "-W", 64, "-H",
            64, "--sampler", "euler", "--out", tmp_path / f"{name}.png", "--save-latents", f"{name}.npy", "-q", *args)
    image = np.asarray(Image.open(tmp_path / f"{name}.png").convert("RGB"), dtype=np.float32) / 255
    return np.load(tmp_path / f"{name}.npy"), image[None]


def assert_parity(got, expected):
    assert np.abs(got[0] - expected[0]).max() <= LATENT_TOLERANCE
    assert np.abs(got[1] - expected[1]).max() <= IMAGE_TOLERANCE


@pytest.mark.parametrize("weight", [0.5, 1.0])
@pytest.mark.parametrize("form", ["kohya", "diffusers"])
@pytest.mark.parametrize("family", ["sdxl", "sd1"])
def test_matches_diffusers(run_vsp, tmp_path, family, form, weight):
    pipe = pipeline(family)
    lora = write_lora(tmp_path / "style.safetensors", pipe, form, sdxl=family == "sdxl")
    plain = vsp_run(run_vsp, model_of(family), tmp_path, [], name="plain")
    got = vsp_run(run_vsp, model_of(family), tmp_path, [(lora, weight)])
    assert_parity(got, diffusers_run(pipe, [(lora, weight)]))
    assert np.abs(got[0] - plain[0]).max() > 100 * LATENT_TOLERANCE  # the LoRA moves the result


@pytest.mark.parametrize("part", ["unet", "text"])
def test_each_part_counts(run_vsp, tmp_path, part):
    """A LoRA on the text encoders alone, and on the UNet alone, each match diffusers."""
    pipe = pipeline("sdxl")
    lora = write_lora(tmp_path / "part.safetensors", pipe, "kohya", text=part == "text")
    if part == "text":  # drop the UNet's layers
        from safetensors.torch import load_file
        tensors = {k: v for k, v in load_file(str(lora)).items() if not k.startswith("lora_unet_")}
        save_file(tensors, str(lora))
    assert_parity(vsp_run(run_vsp, model_of("sdxl"), tmp_path, [(lora, 1.0)]), diffusers_run(pipe, [(lora, 1.0)]))


def test_two_loras_at_once(run_vsp, tmp_path):
    pipe = pipeline("sdxl")
    first = write_lora(tmp_path / "a.safetensors", pipe, "kohya", seed=1)
    second = write_lora(tmp_path / "b.safetensors", pipe, "diffusers", seed=2)
    loras = [(first, 0.7), (second, 0.4)]
    assert_parity(vsp_run(run_vsp, model_of("sdxl"), tmp_path, loras), diffusers_run(pipe, loras))


@pytest.mark.chunking
def test_a_batch_puts_the_weights_back(run_vsp, tmp_path):
    pipe = pipeline("sdxl")
    lora = write_lora(tmp_path / "b.safetensors", pipe, "kohya")
    job = {"mode": "generate", "prompt": PROMPT, "steps": 3, "cfg": 5.0, "width": 64, "height": 64, "seed": 3}
    jobs = [dict(job, name="plain1"), dict(job, name="lora", lora=[f"{lora}:0.8"]), dict(job, name="plain2"),
            dict(job, name="lora-again", lora=[f"{lora}:0.8"])]
    (tmp_path / "jobs.json").write_text(json.dumps({"jobs": jobs}))
    run_vsp("batch", tmp_path / "jobs.json", "--model", model_of("sdxl"), "--out", tmp_path / "batch", "-q")
    alone_plain = vsp_run(run_vsp, model_of("sdxl"), tmp_path, [], steps=3, name="alone-plain")[1]
    alone_lora = vsp_run(run_vsp, model_of("sdxl"), tmp_path, [(lora, 0.8)], steps=3, name="alone-lora")[1]

    def batch_image(name):
        return np.asarray(Image.open(tmp_path / "batch" / f"{name}_s3.png").convert("RGB"), dtype=np.float32)[None] / 255
    for name, alone in [("plain1", alone_plain), ("plain2", alone_plain), ("lora", alone_lora),
                        ("lora-again", alone_lora)]:
        assert np.array_equal(batch_image(name), alone), name
    assert not np.array_equal(alone_plain, alone_lora)


def test_style_prompting_with_a_lora(run_vsp, tmp_path):
    lora = write_lora(tmp_path / "s.safetensors", pipeline("sdxl"), "diffusers")
    base = ["--style", "fire", "--model", model_of("sdxl"), "-W", 64, "-H", 64, "--steps", 3, "--object", "a cat", "-q"]
    run_vsp(*base, "--out", tmp_path / "plain")
    run_vsp(*base, "--lora", f"{lora}:0.6", "--out", tmp_path / "lora")
    for d in ["plain", "lora"]:
        assert len(list((tmp_path / d).glob("00_*.png"))) == 1
    for name in ["reference.png", "grid.png"]:  # the reference and the target both change
        a, b = (np.asarray(Image.open(tmp_path / d / name)) for d in ["plain", "lora"])
        assert not np.array_equal(a, b), name
    target = [np.asarray(Image.open(next((tmp_path / d).glob("00_*.png")))) for d in ["plain", "lora"]]
    assert not np.array_equal(*target)


@pytest.mark.chunking
def test_a1111_tags_read_from_a_lora_folder(run_vsp, tmp_path):
    """<lora:NAME:W> in the prompt with --lora-dir is --lora DIR/NAME.safetensors:W on the prompt
    without the tag; a tag without its weight is weight 1."""
    (tmp_path / "loras").mkdir()
    write_lora(tmp_path / "loras" / "ink.safetensors", pipeline("sdxl"), "kohya")
    base = ["generate", "--model", model_of("sdxl"), "--steps", 3, "--seed", 3, "-W", 64, "-H", 64, "-q"]

    def image(name, *args):
        run_vsp(*base, *args, "--out", tmp_path / f"{name}.png")
        return np.asarray(Image.open(tmp_path / f"{name}.png"))
    tagged = image("tagged", "-p", "a cat <lora:ink:0.5>, night", "--lora-dir", tmp_path / "loras")
    flagged = image("flagged", "-p", "a cat , night", "--lora", f"{tmp_path / 'loras' / 'ink.safetensors'}:0.5")
    assert np.array_equal(tagged, flagged)
    whole = image("whole", "-p", "a cat <lora:ink>", "--lora-dir", tmp_path / "loras")
    assert np.array_equal(whole, image("whole-flag", "-p", "a cat ", "--lora", tmp_path / "loras" / "ink.safetensors"))
    assert not np.array_equal(whole, tagged)


@pytest.mark.chunking
def test_a_tag_on_repeated_targets_merges_once(run_vsp, tmp_path):
    """--num repeats a tagged target prompt: its LoRA still merges once, at its weight."""
    (tmp_path / "loras").mkdir()
    write_lora(tmp_path / "loras" / "ink.safetensors", pipeline("sdxl"), "diffusers")
    base = ["--style", "fire", "--model", model_of("sdxl"), "-W", 64, "-H", 64, "--steps", 2, "--num", 2, "-q"]
    run_vsp(*base, "-p", "a cat <lora:ink:0.6>", "--lora-dir", tmp_path / "loras", "--out", tmp_path / "tagged")
    run_vsp(*base, "-p", "a cat ", "--lora", f"{tmp_path / 'loras' / 'ink.safetensors'}:0.6", "--out",
            tmp_path / "flagged")
    assert np.array_equal(*(np.asarray(Image.open(tmp_path / d / "grid.png")) for d in ["tagged", "flagged"]))


@pytest.mark.parametrize("case", ["unknown tag", "tag in the negative", "two weights"])
def test_bad_tags(vsp_bin, place, case):
    (place / "loras").mkdir()
    (place / "loras" / "ink.safetensors").write_bytes(b"")
    base = ["generate", "--model", model_of("sdxl"), "-W", 64, "-H", 64, "--steps", 2, "-q", "--lora-dir", "loras"]
    args, code, words = {
        "unknown tag": ([*base, "-p", "a cat <lora:inc:1>"], 1, ["inc.safetensors", "'ink'"]),
        "tag in the negative": ([*base, "-p", "a cat", "-n", "<lora:ink:1>"], 2, ["--negative", "prompt"]),
        "two weights": (["--style", "fire", "--model", model_of("sdxl"), "-W", 64, "-H", 64, "--steps", 2, "-q",
                         "--lora-dir", "loras", "-p", "a cat <lora:ink:1>", "-p", "a dog <lora:ink:0.5>"], 2,
                        ["ink", "two weights"]),
    }[case]
    before = written(place)
    one_error_line(run(vsp_bin, *args, cwd=place), *words, code=code)
    assert written(place) == before


@pytest.mark.parametrize("case", ["matches nothing", "other family", "missing", "weight", "damaged", "huge shape",
                                  "prompt tag"])
def test_bad_input_is_one_line(vsp_bin, place, case):
    if case == "matches nothing":
        save_file({"lora_unet_no_such_layer.lora_down.weight": torch.zeros(4, 8),
                   "lora_unet_no_such_layer.lora_up.weight": torch.zeros(8, 4)}, str(place / "x.safetensors"))
    if case == "other family":
        write_lora(place / "x.safetensors", pipeline("sd1"), "kohya", sdxl=False)
    if case == "damaged":
        (place / "x.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    if case == "huge shape":  # a header whose shape overflows 64 bits must not allocate
        header = json.dumps({"a.lora_down.weight": {"dtype": "F32", "shape": [2 ** 62, 8], "data_offsets": [0, 0]}})
        (place / "x.safetensors").write_bytes(len(header).to_bytes(8, "little") + header.encode())
    base = ["generate", "--model", model_of("sdxl"), "-p", "a cat", "-W", 64, "-H", 64, "--steps", 2, "-q"]
    args, code, words = {
        "matches nothing": ([*base, "--lora", "x.safetensors"], 2, ["x.safetensors", "none of its"]),
        "other family": ([*base, "--lora", "x.safetensors"], 2, ["x.safetensors", "another model"]),
        "missing": ([*base, "--lora", "nowhere.safetensors:0.5"], 1, ["nowhere.safetensors", "not found"]),
        "weight": ([*base, "--lora", "x.safetensors:11"], 2, ["--lora", "-10 to 10"]),
        "damaged": ([*base, "--lora", "x.safetensors"], 1, ["x.safetensors", "not a readable"]),
        "huge shape": ([*base, "--lora", "x.safetensors"], 1, ["x.safetensors", "shape"]),
        "prompt tag": (["generate", "--model", model_of("sdxl"), "-p", "a cat <lora:x:1>", "-q"], 2, ["--lora-dir"]),
    }[case]
    before = written(place)
    one_error_line(run(vsp_bin, *args, cwd=place), *words, code=code)
    assert written(place) == before
