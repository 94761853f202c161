"""ControlNet: `vsp generate --control canny` against diffusers' StableDiffusionXLControlNetPipeline
on the tiny export and its tiny random ControlNet (latents within 1e-4, images within 2/255) at two
scales and with a step window; the canny map against cv2.Canny; the depth map against transformers'
DPT on the tiny estimator, normalised as the paper's depth script; that another control picture,
another scale and another depth picture move the results beyond those tolerances (else the parity
would prove nothing about the control path); style prompting with ControlNet
(targets steered, the reference not) against the plain Python method; a folder of control
pictures; the control errors."""
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import DATA
from test_bad_input import metadata, one_error_line, run, written
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


# test_controlled_generate_matches_diffusers' tolerances; the sensitivity tests below check that the
# control image and the scale move the results by more than these, or the parity would prove nothing.
LATENT_TOLERANCE = 1e-4
IMAGE_TOLERANCE = 2 / 255 + 1e-6

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
            c["end"], "--out", out, "--save-latents", "latents.npy", "-q")
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
    assert np.abs(np.load(tmp_path / "latents.npy") - reference.numpy()).max() <= LATENT_TOLERANCE
    vae = control_pipeline.vae
    image = control_pipeline.image_processor.postprocess(vae.decode(reference / vae.config.scaling_factor).sample,
                                                         output_type="np")[0]
    ours = np.asarray(Image.open(out).convert("RGB"), dtype=np.float32) / 255
    assert np.abs(ours - image).max() <= IMAGE_TOLERANCE


def controlled_generate(run_vsp, model, tmp_path, name, kind, picture, scale):
    """(final latents, image in [0, 1], control map) of a short controlled run at 64x64."""
    run_vsp("generate", "--model", model, "--prompt", PROMPT, "--negative", NEGATIVE, "--steps", 3, "--cfg", 5,
            "--seed", 11, "--width", 64, "--height", 64, "--control", kind, "--control-image", picture,
            "--control-scale", scale, "--out", tmp_path / f"{name}.png", "--save-latents", f"{name}.npy",
            "-q", "--overwrite")  # a rerun under one name replaces the last
    image = np.asarray(Image.open(tmp_path / f"{name}.png").convert("RGB"), dtype=np.float32) / 255
    control = np.asarray(Image.open(tmp_path / f"{name}_control.png").convert("RGB")).astype(int)
    return np.load(tmp_path / f"{name}.npy"), image, control


@pytest.mark.parametrize("kind", ["canny", "depth"])
def test_control_image_and_scale_move_the_result_beyond_the_parity_tolerance(run_vsp, tiny_model, tmp_path, kind):
    """Guards test_controlled_generate_matches_diffusers (canny) and
    test_depth_control_feeds_its_map_to_the_depth_controlnet (depth): with a ControlNet that ignored
    its control image (diffusers zero-initialises the conditioning embedding's conv_out), a mirrored
    or wrong control map would pass them. The mirrored picture and --control-scale 0.5 must each move
    the latents and the image by more than the parity tolerances."""
    source = control_source(tmp_path / "source.png", 64, 64)
    Image.fromarray(np.ascontiguousarray(source[:, ::-1])).save(tmp_path / "mirrored.png")
    latents, image, control = controlled_generate(run_vsp, tiny_model, tmp_path, "a", kind, tmp_path / "source.png", 1)
    others = {"mirrored picture": ("mirrored", tmp_path / "mirrored.png", 1),
              "scale 0.5": ("half", tmp_path / "source.png", 0.5)}
    for what, (name, picture, scale) in others.items():
        other_latents, other_image, other_control = controlled_generate(run_vsp, tiny_model, tmp_path, name, kind,
                                                                        picture, scale)
        latent_diff, image_diff = np.abs(other_latents - latents).max(), np.abs(other_image - image).max()
        print(f"{kind}, {what}: latents move {latent_diff:.3g} (tolerance {LATENT_TOLERANCE:g}), image "
              f"{image_diff * 255:.2f}/255 (tolerance {IMAGE_TOLERANCE * 255:.2f}/255)")
        same_picture = picture == tmp_path / "source.png"
        assert np.array_equal(other_control, control) == same_picture, "the control map follows the picture"
        assert latent_diff > LATENT_TOLERANCE, f"{kind}: the {what} leaves the latents within the parity tolerance"
        assert image_diff > IMAGE_TOLERANCE, f"{kind}: the {what} leaves the image within the parity tolerance"


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
    (["--control-scale", "0.5"], ["--control-scale needs --control"]),
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


def test_control_on_an_sd1_export_says_controlnets_need_sdxl(vsp_bin, tmp_path):
    control_source(tmp_path / "source.png", 64, 64)
    result = run(vsp_bin, "generate", "--model", DATA / "sd1-tiny", "--prompt", "a", "--steps", 2, "--control",
                 "canny", "--control-image", tmp_path / "source.png", "--out", tmp_path / "a.png")
    # Family-correct advice: no SDXL ControlNet export command for an SD 1.x model.
    one_error_line(result, "ControlNets run with SDXL exports", "sd1 export")
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


def paper_depth_map(path, width, height):
    """The paper's get_depth_map (utils.py) on the tiny estimator: the image processor, the DPT,
    bicubic to the output size, min-max, x255 truncated to 8 bits, three channels."""
    from transformers import AutoImageProcessor, DPTForDepthEstimation
    folder = DATA / "tiny-diffusers" / "depth_estimator"
    estimator, processor = DPTForDepthEstimation.from_pretrained(folder).eval(), AutoImageProcessor.from_pretrained(folder)
    pixel_values = processor(images=Image.open(path).convert("RGB"), return_tensors="pt").pixel_values
    with torch.no_grad():
        depth = estimator(pixel_values).predicted_depth
    depth = torch.nn.functional.interpolate(depth.unsqueeze(1), size=(height, width), mode="bicubic",
                                            align_corners=False)
    low, high = depth.amin(dim=[1, 2, 3], keepdim=True), depth.amax(dim=[1, 2, 3], keepdim=True)
    depth = torch.cat([(depth - low) / (high - low)] * 3, dim=1).permute(0, 2, 3, 1).numpy()[0]
    return (depth * 255.0).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("source_size,size", [((96, 80), (64, 64)), ((50, 40), (96, 64)), ((64, 64), (64, 96))],
                         ids=["shrink", "enlarge-wide", "as-is-tall"])
def test_depth_map_matches_transformers_dpt(run_vsp, tiny_model, tmp_path, source_size, size):
    control_source(tmp_path / "source.png", *source_size)
    run_vsp("generate", "--model", tiny_model, "--prompt", "a house", "--steps", 2, "--width", size[0], "--height",
            size[1], "--control", "depth", "--control-image", tmp_path / "source.png", "--out", tmp_path / "out.png",
            "-q")
    ours = np.asarray(Image.open(tmp_path / "out_control.png").convert("RGB")).astype(int)
    expected = paper_depth_map(tmp_path / "source.png", *size).astype(int)
    assert ours.shape == expected.shape == (size[1], size[0], 3)
    assert expected.min() == 0 and expected.max() == 255 and len(np.unique(expected)) > 50  # a real map
    print(f"depth map {source_size} -> {size}: max difference {np.abs(ours - expected).max()}/255, "
          f"{(ours != expected).mean():.3%} of values differ")
    # The picture is resized with Pillow's own arithmetic (vsp::io::resize); the depth's float
    # resize and truncation may still put a rare value one level off.
    assert np.abs(ours - expected).max() <= 1 and (ours != expected).mean() < 0.001


def test_depth_map_depends_on_the_picture(tmp_path):
    """Guards test_depth_map_matches_transformers_dpt (at most 1 level off, in under 0.1% of the
    values): a tiny estimator whose output ignored the picture (e.g. resting on its final ReLU's zero,
    or on a constant bias) would pass it with any picture. Another picture must change the map far
    beyond that tolerance."""
    source = control_source(tmp_path / "source.png", 64, 64)
    Image.fromarray(np.ascontiguousarray(source[:, ::-1])).save(tmp_path / "mirrored.png")
    maps = [paper_depth_map(tmp_path / name, 64, 64).astype(int) for name in ("source.png", "mirrored.png")]
    diff = np.abs(maps[0] - maps[1])
    print(f"depth map of the mirrored picture: max difference {diff.max()}/255, {(diff > 1).mean():.1%} of values "
          f"more than 1 level apart")
    assert diff.max() > 1 and (diff > 1).mean() > 0.001


def test_depth_control_feeds_its_map_to_the_depth_controlnet(run_vsp, tiny_model, tmp_path):
    """--control depth equals --control depth-map given the map it estimated, and the map steers."""
    control_source(tmp_path / "source.png", 80, 64)
    common = ["generate", "--model", tiny_model, "--prompt", "a house", "--steps", 4, "--seed", 5, "-q"]
    run_vsp(*common, "--control", "depth", "--control-image", tmp_path / "source.png", "--out", tmp_path / "a.png")
    run_vsp(*common, "--control", "depth-map", "--control-image", tmp_path / "a_control.png",
            "--out", tmp_path / "b.png")
    run_vsp(*common, "--out", tmp_path / "plain.png")
    a, b, plain = (np.asarray(Image.open(tmp_path / f"{n}.png")).astype(int) for n in ("a", "b", "plain"))
    assert np.array_equal(a, b)
    assert np.abs(a - plain).max() > 8
    assert metadata(tmp_path / "a.png")["control"]["control"] == "depth"


def test_control_folder_runs_once_per_picture(run_vsp, tiny_model, tmp_path):
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    control_source(pictures / "bird.png", 64, 64)
    control_source(pictures / "car.jpg", 96, 64)
    (pictures / "notes.txt").write_text("not a picture")
    common = ["generate", "--model", tiny_model, "--prompt", "a house", "--steps", 2, "--seed", 5, "-q",
              "--control", "canny"]
    (tmp_path / "runs").mkdir()
    run_vsp(*common, "--control-image", pictures, "--out", tmp_path / "runs" / "out.png")
    assert written(tmp_path / "runs") == [Path(n) for n in ("out_bird.png", "out_bird_control.png", "out_car.png",
                                                             "out_car_control.png")]
    for name, file in [("bird", "bird.png"), ("car", "car.jpg")]:
        run_vsp(*common, "--control-image", pictures / file, "--out", tmp_path / f"{name}.png")
        assert (tmp_path / "runs" / f"out_{name}.png").read_bytes() == (tmp_path / f"{name}.png").read_bytes()
        assert metadata(tmp_path / "runs" / f"out_{name}.png")["job"]["control_image"].endswith(file)

    from test_style_parity import write_style
    write_style(tmp_path / "styles", "controlled", targets=["a cat"], seeds=[1], steps=2, warmup={"cfg": 20.0, "steps": 1})
    run_vsp("--style", "controlled", "--styles", tmp_path / "styles", "--model", tiny_model, "-q",
            "--control", "canny", "--control-image", pictures, "--out", tmp_path / "style")
    for name in ("bird", "car"):
        files = {p.name for p in (tmp_path / "style" / name).iterdir() if not p.name.startswith(".")}
        assert {"reference.png", "grid.png", "control.png"} <= files and len(files) == 4

    # A jobs file: the runs are named "<job>_<picture>".
    (tmp_path / "jobs.json").write_text(json.dumps({"jobs": [
        {"mode": "generate", "name": "house", "prompt": "a house", "steps": 2, "seed": 5, "control": "canny",
         "control_image": "pictures"}]}))
    run_vsp("batch", tmp_path / "jobs.json", "--model", tiny_model, "--out", tmp_path / "batch", "-q")
    assert [p for p in written(tmp_path / "batch") if p.suffix == ".png"] == [
        Path(n) for n in ("house_bird_s5.png", "house_bird_s5_control.png", "house_car_s5.png", "house_car_s5_control.png")]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "batch" / "house_car_s5.png")),
                          np.asarray(Image.open(tmp_path / "car.png")))  # the metadata names the job


def test_control_errors_write_nothing(vsp_bin, tiny_model, tmp_path):
    """An empty control folder; --control depth with a model that has no depth estimator."""
    (tmp_path / "empty").mkdir()
    control_source(tmp_path / "source.png", 64, 64)
    no_depth = tmp_path / "no-depth"
    shutil.copytree(tiny_model, no_depth)
    manifest = json.loads((no_depth / "manifest.json").read_text())
    del manifest["depth_estimator"]
    (no_depth / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "out"
    out.mkdir()
    for model, args, words in [
        (tiny_model, ["--control", "canny", "--control-image", tmp_path / "empty"], ["has no pictures"]),
        (no_depth, ["--control", "depth", "--control-image", tmp_path / "source.png"],
         ["has no depth estimator", "--depth-model Intel/dpt-hybrid-midas", "--control depth-map"]),
    ]:
        result = run(vsp_bin, "generate", "--model", model, "--prompt", "a", "--steps", 2, "--out", out / "a.png", *args)
        one_error_line(result, *words)
        assert written(out) == []


def test_image_to_image_with_control_matches_diffusers(run_vsp, tiny_model, control_pipeline, tmp_path):
    """--image with --control: the window counts over the steps that run, as diffusers'
    StableDiffusionXLControlNetImg2ImgPipeline keeps its ControlNet."""
    from diffusers import StableDiffusionXLControlNetImg2ImgPipeline
    control_source(tmp_path / "source.png", 64, 64)
    start = Image.fromarray(255 - np.asarray(Image.open(tmp_path / "source.png")))
    start.save(tmp_path / "start.png")
    out = tmp_path / "out.png"
    run_vsp("generate", "--model", tiny_model, "--prompt", PROMPT, "--negative", NEGATIVE, "--steps", 8, "--cfg", 5,
            "--seed", 11, "-W", 64, "-H", 64, "--image", tmp_path / "start.png", "--strength", 0.5, "--control",
            "canny", "--control-image", tmp_path / "source.png", "--control-end", 0.5, "--out", out,
            "--save-latents", "latents.npy", "-q")
    control = Image.open(tmp_path / "out_control.png").convert("RGB")
    pipe = StableDiffusionXLControlNetImg2ImgPipeline(**control_pipeline.components)
    reference = pipe(prompt=PROMPT, negative_prompt=NEGATIVE, image=start, control_image=control, strength=0.5,
                     num_inference_steps=8, guidance_scale=5.0, controlnet_conditioning_scale=1.0,
                     control_guidance_start=0.0, control_guidance_end=0.5,
                     generator=torch.Generator("cpu").manual_seed(11), output_type="latent").images
    assert np.abs(np.load(tmp_path / "latents.npy") - reference.numpy()).max() <= LATENT_TOLERANCE
