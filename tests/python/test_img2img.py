"""`vsp generate --image IN.png --strength S` against diffusers' StableDiffusionXLImg2ImgPipeline
and StableDiffusionImg2ImgPipeline on the same tiny weights: final latents within 1e-4 and images
within 2/255 at strengths 0.3, 0.75 and 1.0, for every sampler (Euler a's step noise continuing the
generator), one and two images; the picture
moves the result; bad input is one line, exit 2, nothing written."""
import numpy as np
import pytest
import torch
from diffusers import EulerAncestralDiscreteScheduler
from PIL import Image

from conftest import DATA
from test_bad_input import one_error_line, run, written
from test_generate_parity import IMAGE_TOLERANCE, LATENT_TOLERANCE, SCHEDULERS
from test_output_rules import picture, place  # noqa: F401 (a fixture)

PROMPT = "a watercolor of a harbour at dawn"
SAMPLERS = {**SCHEDULERS, "euler-a": EulerAncestralDiscreteScheduler}


def diffusers_img2img(pipe, image, sampler, strength, steps, seed, num, negative=None):
    original = pipe.scheduler
    pipe.scheduler = SAMPLERS[sampler].from_config(original.config)
    try:
        latents = pipe(prompt=PROMPT, negative_prompt=negative, image=Image.open(image).convert("RGB"),
                       strength=strength, num_inference_steps=steps, guidance_scale=5.0,
                       generator=torch.Generator("cpu").manual_seed(seed), num_images_per_prompt=num,
                       output_type="latent").images
    finally:
        pipe.scheduler = original
    decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.numpy(), pipe.image_processor.postprocess(decoded, output_type="np")


def vsp_img2img(run_vsp, model, tmp_path, image, sampler, strength, steps, seed, num, negative=None):
    out = tmp_path / "out.png"
    args = ["generate", "--model", model, "--prompt", PROMPT, "--image", image, "--strength", strength, "--steps",
            steps, "--cfg", 5.0, "--seed", seed, "--sampler", sampler, "--num", num, "-W", 64, "-H", 64, "--out", out,
            "--save-latents", "latents.npy", "--overwrite", "--quiet"]
    if negative is not None:
        args += ["--negative", negative]
    run_vsp(*args)
    paths = [out] if num == 1 else [tmp_path / f"out-{i}.png" for i in range(num)]
    images = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255 for p in paths])
    return np.load(tmp_path / "latents.npy"), images


def assert_parity(got, expected):
    assert got[0].shape == expected[0].shape
    assert np.abs(got[0] - expected[0]).max() <= LATENT_TOLERANCE
    assert np.abs(got[1] - expected[1]).max() <= IMAGE_TOLERANCE


@pytest.fixture(scope="module")
def sdxl_img2img(tiny_pipeline):
    from diffusers import StableDiffusionXLImg2ImgPipeline
    return StableDiffusionXLImg2ImgPipeline(**tiny_pipeline.components)


@pytest.fixture(scope="module")
def sd1_img2img():
    from diffusers import StableDiffusionImg2ImgPipeline
    torch.set_grad_enabled(False)
    return StableDiffusionImg2ImgPipeline.from_pretrained(DATA / "sd1-tiny-diffusers", torch_dtype=torch.float32)


@pytest.mark.parametrize("strength", [0.3, 0.75, 1.0])
@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_sdxl_matches_diffusers(run_vsp, tiny_model, sdxl_img2img, tmp_path, sampler, strength):
    image = picture(tmp_path / "in.png")
    args = dict(sampler=sampler, strength=strength, steps=10, seed=11, num=1)
    assert_parity(vsp_img2img(run_vsp, tiny_model, tmp_path, image, **args),
                  diffusers_img2img(sdxl_img2img, image, **args))


def test_sdxl_two_images_and_a_negative(run_vsp, tiny_model, sdxl_img2img, tmp_path):
    image = picture(tmp_path / "in.png")
    args = dict(sampler="euler", strength=0.6, steps=5, seed=3, num=2, negative="blurry")
    assert_parity(vsp_img2img(run_vsp, tiny_model, tmp_path, image, **args),
                  diffusers_img2img(sdxl_img2img, image, **args))


@pytest.mark.parametrize("strength", [0.3, 0.75, 1.0])
def test_sd1_matches_diffusers(run_vsp, sd1_model, sd1_img2img, tmp_path, strength):
    image = picture(tmp_path / "in.png")
    args = dict(sampler="ddim", strength=strength, steps=10, seed=5, num=1)
    assert_parity(vsp_img2img(run_vsp, sd1_model, tmp_path, image, **args),
                  diffusers_img2img(sd1_img2img, image, **args))


def test_the_picture_moves_the_result(run_vsp, tiny_model, tmp_path):
    first = picture(tmp_path / "a.png")
    Image.fromarray(255 - np.asarray(Image.open(first))).save(tmp_path / "b.png")
    args = dict(sampler="euler", strength=0.5, steps=4, seed=1, num=1)
    a = vsp_img2img(run_vsp, tiny_model, tmp_path, first, **args)
    b = vsp_img2img(run_vsp, tiny_model, tmp_path, tmp_path / "b.png", **args)
    assert np.abs(a[0] - b[0]).max() > 100 * LATENT_TOLERANCE


@pytest.mark.parametrize("case", ["strength 0", "strength 1.5", "strength none", "strength alone", "no step",
                                  "missing picture"])
def test_bad_input_is_one_line(vsp_bin, place, tiny_model, case):
    base = ["generate", "--model", tiny_model, "-p", "a cat", "-W", 64, "-H", 64, "--steps", 4, "-q"]
    args, code, words = {
        "strength 0": ([*base, "--image", "cat.png", "--strength", 0], 2, ["--strength", "above 0"]),
        "strength 1.5": ([*base, "--image", "cat.png", "--strength", 1.5], 2, ["--strength"]),
        "strength none": ([*base, "--image", "cat.png", "--strength", "nan"], 2, ["--strength"]),
        "strength alone": ([*base, "--strength", 0.5], 2, ["--strength", "--image"]),
        "no step": ([*base, "--image", "cat.png", "--strength", 0.2], 2, ["runs none", "--steps"]),
        "missing picture": ([*base, "--image", "nowhere.png"], 1, ["nowhere.png"]),
    }[case]
    before = written(place)
    one_error_line(run(vsp_bin, *args, cwd=place), *words, code=code)
    assert written(place) == before
