"""`vsp generate --image IN.png --mask MASK.png` against diffusers' StableDiffusionXLInpaintPipeline and
StableDiffusionInpaintPipeline run with the same tiny (4-channel) UNet: final latents within 1e-4
and images within 2/255 at strengths 0.3, 0.75 and 1.0 and for every sampler; `--mask-blur`
pastes the result over the picture; bad input is one line, exit 2, nothing written."""
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import DATA
from test_bad_input import one_error_line, run, written
from test_img2img import SAMPLERS, assert_parity
from test_output_rules import picture, place  # noqa: F401 (a fixture)

PROMPT = "a red boat on a calm lake"


def mask_file(path, size=64):
    """White (repaint) on a block that does not fall on the latents' 8-pixel grid."""
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[13:45, 21:59] = 255
    Image.fromarray(mask).convert("RGB").save(path)
    return path


def diffusers_inpaint(pipe, image, mask, sampler, strength, steps, seed, num):
    original = pipe.scheduler
    pipe.scheduler = SAMPLERS[sampler].from_config(original.config)
    try:
        latents = pipe(prompt=PROMPT, image=Image.open(image).convert("RGB"), mask_image=Image.open(mask),
                       strength=strength, num_inference_steps=steps, guidance_scale=5.0, height=64, width=64,
                       generator=torch.Generator("cpu").manual_seed(seed), num_images_per_prompt=num,
                       output_type="latent").images
    finally:
        pipe.scheduler = original
    decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.numpy(), pipe.image_processor.postprocess(decoded, output_type="np")


def vsp_inpaint(run_vsp, model, tmp_path, image, mask, sampler, strength, steps, seed, num, extra=(), prompt=PROMPT):
    out = tmp_path / "out.png"
    run_vsp("generate", "--model", model, "--prompt", prompt, "--image", image, "--mask", mask, "--strength",
            strength, "--steps", steps, "--cfg", 5.0, "--seed", seed, "--sampler", sampler, "--num", num, "-W", 64,
            "-H", 64, "--out", out, "--save-latents", "latents.npy", "--overwrite", "--quiet", *extra)
    paths = [out] if num == 1 else [tmp_path / f"out-{i}.png" for i in range(num)]
    images = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255 for p in paths])
    return np.load(tmp_path / "latents.npy"), images


@pytest.fixture(scope="module")
def sdxl_inpaint(tiny_pipeline):
    from diffusers import StableDiffusionXLInpaintPipeline
    return StableDiffusionXLInpaintPipeline(**tiny_pipeline.components)


@pytest.fixture(scope="module")
def sd1_inpaint():
    from diffusers import StableDiffusionInpaintPipeline
    torch.set_grad_enabled(False)
    return StableDiffusionInpaintPipeline.from_pretrained(DATA / "sd1-tiny-diffusers", torch_dtype=torch.float32,
                                                          safety_checker=None, requires_safety_checker=False)


@pytest.mark.parametrize("sampler,strength", [("euler", 0.3), ("euler", 0.75), ("euler", 1.0), ("ddim", 0.75),
                                              ("dpmpp2m", 0.75), ("euler-a", 0.75), ("euler-a", 1.0)])
def test_sdxl_matches_diffusers(run_vsp, tiny_model, sdxl_inpaint, tmp_path, sampler, strength):
    image, mask = picture(tmp_path / "in.png"), mask_file(tmp_path / "mask.png")
    args = dict(sampler=sampler, strength=strength, steps=10, seed=11, num=1)
    assert_parity(vsp_inpaint(run_vsp, tiny_model, tmp_path, image, mask, **args),
                  diffusers_inpaint(sdxl_inpaint, image, mask, **args))


def test_sdxl_two_images(run_vsp, tiny_model, sdxl_inpaint, tmp_path):
    image, mask = picture(tmp_path / "in.png"), mask_file(tmp_path / "mask.png")
    args = dict(sampler="euler", strength=0.6, steps=5, seed=3, num=2)
    assert_parity(vsp_inpaint(run_vsp, tiny_model, tmp_path, image, mask, **args),
                  diffusers_inpaint(sdxl_inpaint, image, mask, **args))


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_sd1_matches_diffusers(run_vsp, sd1_model, sd1_inpaint, tmp_path, strength):
    image, mask = picture(tmp_path / "in.png"), mask_file(tmp_path / "mask.png")
    args = dict(sampler="ddim", strength=strength, steps=10, seed=5, num=1)
    assert_parity(vsp_inpaint(run_vsp, sd1_model, tmp_path, image, mask, **args),
                  diffusers_inpaint(sd1_inpaint, image, mask, **args))


@pytest.mark.chunking
def test_the_unmasked_region_keeps_the_pictures_latent(run_vsp, tiny_model, tmp_path):
    image, mask = picture(tmp_path / "in.png"), mask_file(tmp_path / "mask.png")
    latents, _ = vsp_inpaint(run_vsp, tiny_model, tmp_path, image, mask, "euler", 0.75, 6, 2, 1)
    other, _ = vsp_inpaint(run_vsp, tiny_model, tmp_path, image, mask, "euler", 0.75, 6, 2, 1, prompt="a lighthouse")
    # Latent cells whose nearest pixel (8i, 8j) is black end as the picture's latent whatever the
    # prompt; the repainted cells follow the prompt.
    repaint = np.zeros((8, 8), dtype=bool)
    for i in range(8):
        for j in range(8):
            repaint[i, j] = 13 <= 8 * i < 45 and 21 <= 8 * j < 59
    assert repaint.any() and not repaint.all()
    same = np.abs(latents - other)[0]
    assert same[:, ~repaint].max() == 0
    assert same[:, repaint].max() > 0.1


@pytest.mark.parametrize("blur", [0, 3])
def test_mask_blur_pastes_over_the_picture(run_vsp, tiny_model, tmp_path, blur):
    image, mask = picture(tmp_path / "in.png"), mask_file(tmp_path / "mask.png")
    args = dict(sampler="euler", strength=0.75, steps=4, seed=7, num=1)
    _, generated = vsp_inpaint(run_vsp, tiny_model, tmp_path, image, mask, **args)
    _, pasted = vsp_inpaint(run_vsp, tiny_model, tmp_path, image, mask, **args, extra=("--mask-blur", blur))
    original = np.asarray(Image.open(image), dtype=np.float32) / 255
    white = np.asarray(Image.open(mask).convert("L")) > 127
    margin = 0 if blur == 0 else 3 * blur + 1
    ys, xs = np.nonzero(white)
    far_outside = np.ones_like(white)
    far_outside[max(ys.min() - margin, 0):ys.max() + margin + 1, max(xs.min() - margin, 0):xs.max() + margin + 1] = 0
    deep_inside = np.zeros_like(white)
    deep_inside[ys.min() + margin:ys.max() - margin + 1, xs.min() + margin:xs.max() - margin + 1] = 1
    assert np.abs(pasted[0][far_outside] - original[far_outside]).max() <= 1 / 255 + 1e-6
    assert np.abs(pasted[0][deep_inside] - generated[0][deep_inside]).max() <= 1 / 255 + 1e-6
    assert np.abs(generated[0][far_outside] - original[far_outside]).max() > 4 / 255  # the VAE's round trip
    if blur:
        edge = ~far_outside & ~deep_inside
        between = (np.abs(pasted[0] - original) > 1 / 255) & (np.abs(pasted[0] - generated[0]) > 1 / 255)
        assert between[edge].any()


@pytest.mark.parametrize("case", ["size", "no image", "blur alone", "blur negative", "blur large", "missing mask",
                                  "jobs size"])
def test_bad_input_is_one_line(vsp_bin, place, tiny_model, case):
    Image.new("RGB", (32, 64), "white").save(place / "small.png")
    mask_file(place / "mask.png")
    base = ["generate", "--model", tiny_model, "-p", "a cat", "-W", 64, "-H", 64, "--steps", 4, "-q"]
    if case == "jobs size":
        (place / "jobs.json").write_text('{"jobs": [{"mode": "generate", "prompt": "a cat", "image": "cat.png",'
                                         ' "mask": "small.png", "width": 64, "height": 64, "steps": 4}]}')
    args, code, words = {
        "size": ([*base, "--image", "cat.png", "--mask", "small.png"], 2, ["32x64", "64x64", "--mask"]),
        "no image": ([*base, "--mask", "mask.png"], 2, ["--mask", "--image"]),
        "blur alone": ([*base, "--image", "cat.png", "--mask-blur", 4], 2, ["--mask-blur", "--mask"]),
        "blur negative": ([*base, "--image", "cat.png", "--mask", "mask.png", "--mask-blur", -1], 2,
                          ["--mask-blur"]),
        "blur large": ([*base, "--image", "cat.png", "--mask", "mask.png", "--mask-blur", 101], 2, ["--mask-blur"]),
        "missing mask": ([*base, "--image", "cat.png", "--mask", "nowhere.png"], 1, ["nowhere.png"]),
        "jobs size": (["batch", "jobs.json", "--model", tiny_model, "--out", "out", "-q"], 1, ["32x64", "mask"]),
    }[case]
    before = written(place)
    one_error_line(run(vsp_bin, *args, cwd=place), *words, code=code)
    assert written(place) == before
