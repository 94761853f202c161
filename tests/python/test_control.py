"""ControlNet: `vsp generate --control canny` against diffusers' StableDiffusionXLControlNetPipeline
on the tiny export and its tiny random ControlNet (latents within 1e-4, images within 2/255) at two
scales and with a step window; the canny map against cv2.Canny; style prompting with ControlNet
(targets steered, the reference not) against the plain Python method; the control errors."""
import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import DATA
from test_bad_input import one_error_line, run, written
from test_generate_parity import PROMPT, NEGATIVE


def control_source(path, width, height):
    """A picture with edges: two rectangles and a disc on a gradient."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    pixels[height // 5:height // 2, width // 6:width // 2] = (250, 240, 30)
    pixels[height // 2:height - 6, width // 2:width - 8] = (20, 30, 200)
    pixels[(x - width * 3 // 4) ** 2 + (y - height // 4) ** 2 < (height // 8) ** 2] = (255, 255, 255)
    Image.fromarray(pixels).save(path)
    return pixels


@pytest.fixture(scope="module")
def control_pipeline():
    from diffusers import ControlNetModel, StableDiffusionXLControlNetPipeline
    torch.set_grad_enabled(False)
    controlnet = ControlNetModel.from_pretrained(DATA / "tiny-diffusers" / "controlnet_canny", torch_dtype=torch.float32)
    return StableDiffusionXLControlNetPipeline.from_pretrained(DATA / "tiny-diffusers", controlnet=controlnet,
                                                               torch_dtype=torch.float32)


CASES = {
    "scale-1": dict(scale=1.0, start=0.0, end=1.0, width=64, height=64),
    "scale-0.5-96x64": dict(scale=0.5, start=0.0, end=1.0, width=96, height=64),
    "window-0.2-0.7": dict(scale=1.0, start=0.2, end=0.7, width=64, height=64),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_controlled_generate_matches_diffusers(run_vsp, tiny_model, control_pipeline, tmp_path, case):
    c = CASES[case]
    source = control_source(tmp_path / "source.png", c["width"], c["height"])
    out = tmp_path / "out.png"
    run_vsp("generate", "--model", tiny_model, "--prompt", PROMPT, "--negative", NEGATIVE, "--steps", 8, "--cfg", 5,
            "--seed", 11, "--width", c["width"], "--height", c["height"], "--control", "canny", "--control-image",
            tmp_path / "source.png", "--control-scale", c["scale"], "--control-start", c["start"], "--control-end",
            c["end"], "--out", out, "--save-latents", tmp_path / "latents.npy", "-q")
    # The map vsp saw: cv2.Canny(100, 200) of the picture (already at the output size), three channels.
    control = np.asarray(Image.open(tmp_path / "out_control.png").convert("RGB"))
    expected_edges = cv2.Canny(source, 100, 200)
    assert np.array_equal(control, np.repeat(expected_edges[:, :, None], 3, axis=2))
    assert expected_edges.any()

    result = control_pipeline(prompt=PROMPT, negative_prompt=NEGATIVE, image=Image.fromarray(control),
                              num_inference_steps=8, guidance_scale=5.0, width=c["width"], height=c["height"],
                              controlnet_conditioning_scale=c["scale"], control_guidance_start=c["start"],
                              control_guidance_end=c["end"], generator=torch.Generator("cpu").manual_seed(11),
                              output_type="latent")
    reference = result.images
    assert np.abs(np.load(tmp_path / "latents.npy") - reference.numpy()).max() <= 1e-4
    vae = control_pipeline.vae
    image = control_pipeline.image_processor.postprocess(vae.decode(reference / vae.config.scaling_factor).sample,
                                                         output_type="np")[0]
    ours = np.asarray(Image.open(out).convert("RGB"), dtype=np.float32) / 255
    assert np.abs(ours - image).max() <= 2 / 255 + 1e-6


def test_control_changes_the_image_and_scale_zero_does_not(run_vsp, tiny_model, tmp_path):
    control_source(tmp_path / "source.png", 64, 64)
    common = ["generate", "--model", tiny_model, "--prompt", "a house", "--steps", 4, "--seed", 3, "-q"]
    run_vsp(*common, "--out", tmp_path / "plain.png")
    run_vsp(*common, "--control", "canny", "--control-image", tmp_path / "source.png", "--out", tmp_path / "a.png")
    run_vsp(*common, "--control", "canny", "--control-image", tmp_path / "source.png", "--control-scale", 0,
            "--out", tmp_path / "zero.png")
    pixels = {name: np.asarray(Image.open(tmp_path / f"{name}.png")).astype(int) for name in ("plain", "a", "zero")}
    assert np.abs(pixels["a"] - pixels["plain"]).max() > 8
    assert np.array_equal(pixels["zero"], pixels["plain"])  # no residuals: the plain UNet's numbers


@pytest.mark.parametrize("args,words", [
    (["--control", "canny"], ["needs --control-image"]),
    (["--control-scale", "0.5"], ["--control_scale needs --control"]),
    (["--control", "canny", "--control-image", "missing.png"], ["missing.png"]),
    (["--control", "canny", "--control-image", "SOURCE", "--control-start", "0.8", "--control-end", "0.2"],
     ["--control-start", "below --control-end"]),
])
def test_control_errors(vsp_bin, tiny_model, tmp_path, args, words):
    control_source(tmp_path / "source.png", 64, 64)
    args = [str(tmp_path / "source.png") if a == "SOURCE" else a for a in args]
    out = tmp_path / "out"
    out.mkdir()
    result = run(vsp_bin, "generate", "--model", tiny_model, "--prompt", "a", "--steps", 2, "--out", out / "a.png",
                 *args, cwd=tmp_path)
    one_error_line(result, *words)
    assert written(out) == []


def test_control_without_a_controlnet_says_how_to_export_one(vsp_bin, tmp_path):
    control_source(tmp_path / "source.png", 64, 64)
    result = run(vsp_bin, "generate", "--model", DATA / "sd1-tiny", "--prompt", "a", "--steps", 2, "--control",
                 "canny", "--control-image", tmp_path / "source.png", "--out", tmp_path / "a.png")
    one_error_line(result, "has no canny ControlNet", "--controlnet canny=")
    assert not (tmp_path / "a.png").exists()


@pytest.mark.parametrize("warmup", [3, 0], ids=["warmup", "no-warmup"])
def test_style_with_control_matches_python_vsp(run_vsp, tiny_model, control_pipeline, tmp_path, warmup):
    """Style prompting with ControlNet: the reference uncontrolled, the targets steered."""
    from test_style_parity import TEMPLATE, assert_rows_match, output_images, write_style
    from vsp_reference import StyleRun, visual_style_prompting
    control_source(tmp_path / "source.png", 64, 64)
    style = write_style(tmp_path / "styles", "controlled", targets=["a cat", "an owl"], seeds=[1, 2],
                        warmup={"cfg": 20.0, "steps": warmup})
    out = tmp_path / "out"
    run_vsp("--style", "controlled", "--styles", tmp_path / "styles", "--model", tiny_model, "--out", out, "-q",
            "--control", "canny", "--control-image", tmp_path / "source.png", "--control-scale", 0.8)
    images, _ = output_images(out)
    control = np.asarray(Image.open(out / "control.png").convert("RGB"))
    run = StyleRun(reference_prompt=TEMPLATE.format(object="a horse"),
                   target_prompts=[TEMPLATE.format(object=o) for o in style["targets"]],
                   reference_seed=style["reference_seed"], target_seeds=style["seeds"], layers=style["layers"],
                   steps=style["steps"], cfg=style["cfg"], negative=style["negative"], warmup_steps=warmup,
                   warmup_cfg=20.0, controlnet=control_pipeline.controlnet, control_image=control, control_scale=0.8)
    _, expected = visual_style_prompting(control_pipeline, run)
    assert_rows_match(images, expected)
