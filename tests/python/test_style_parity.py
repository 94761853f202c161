"""`vsp --style` and `vsp --style-image` against a plain Python VSP (vsp_reference.py) built from
diffusers' SDXL parts on the same tiny weights: every image (reference and targets) within 2/255;
that another style picture moves them beyond that tolerance."""
import json

import numpy as np
import pytest
from PIL import Image

from vsp_reference import StyleRun, read_png, visual_style_prompting

TOLERANCE = 2 / 255 + 1e-6
TEMPLATE = "{object}, watercolor painting, soft edges"
OBJECTS = ["a cat", "a lighthouse on a cliff", "an owl"]


def write_style(folder, name, **fields):
    style = {"name": name, "description": "test style", "template": TEMPLATE, "reference_object": "a horse",
             "reference_seed": 100, "negative": "", "zero_target_negatives": False, "targets": OBJECTS[:1],
             "seeds": [1], "layers": ["up_blocks.1"], "swap_steps": "all", "steps": 8, "cfg": 7.0,
             "sampler": "euler", "warmup": {"cfg": 20.0, "steps": 3}}
    style.update(fields)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(style))
    return style


def output_images(out):
    """reference.png, then the targets in index order."""
    targets = sorted(out.glob("[0-9][0-9]_*.png"))
    assert (out / "reference.png").exists() and (out / "grid.png").exists(), sorted(out.iterdir())
    return np.stack([read_png(p) for p in [out / "reference.png", *targets]]), targets


def assert_rows_match(images, expected):
    assert images.shape == expected.shape, f"vsp wrote {images.shape}, expected {expected.shape}"
    for row in range(len(images)):
        diff = np.abs(images[row] - expected[row]).max()
        name = "reference" if row == 0 else f"target {row - 1}"
        assert diff <= TOLERANCE, f"{name}: max abs diff {diff * 255:.1f}/255 against the Python VSP"


GENERATED_CASES = {
    # (a) the predefined-style shape: CFG with warm-up, up_blocks.1, one target
    "a-up_blocks.1-n1": dict(),
    # (b) the wider layer set of the "stronger" styles and three targets
    "b-16-layers-n3": dict(layers=["up_blocks.0.attentions.2", "up_blocks.1"], targets=OBJECTS, seeds=[1, 2, 3]),
    # swap on some steps only, explicit negative with zero negatives for the targets, DDIM
    "c-steps-zero-target-negatives-ddim": dict(targets=OBJECTS[:2], seeds=[5, 9], swap_steps="0-2,5",
                                               negative="blurry, low quality", zero_target_negatives=True,
                                               sampler="ddim", warmup={"cfg": 12.0, "steps": 1}),
    # shared attention (StyleAligned) with AdaIN of queries and keys, and without it
    "d-shared-attention-adain-n2": dict(targets=OBJECTS[:2], seeds=[1, 2], shared_attention=True),
    "e-shared-attention-no-adain-n2": dict(targets=OBJECTS[:2], seeds=[3, 4], shared_attention=True,
                                           shared_adain=False, layers=["up_blocks.0.attentions.2", "up_blocks.1"]),
}


def swap_step_set(spec, steps):
    if spec == "all":
        return None
    chosen = set()
    for item in spec.split(","):
        first, _, last = item.partition("-")
        chosen.update(range(int(first), int(last or first) + 1))
    return {s for s in chosen if s < steps}


@pytest.mark.parametrize("case", sorted(GENERATED_CASES))
def test_generated_reference_matches_python_vsp(run_vsp, tiny_model, tiny_pipeline, tmp_path, case):
    style = write_style(tmp_path / "styles", "test-style", **GENERATED_CASES[case])
    out = tmp_path / "out"
    run_vsp("--style", "test-style", "--styles", tmp_path / "styles", "--model", tiny_model, "--out", out, "-q")
    images, targets = output_images(out)
    assert len(targets) == len(style["targets"])

    run = StyleRun(reference_prompt=TEMPLATE.format(object=style["reference_object"]),
                   target_prompts=[TEMPLATE.format(object=o) for o in style["targets"]],
                   reference_seed=style["reference_seed"], target_seeds=style["seeds"], layers=style["layers"],
                   steps=style["steps"], cfg=style["cfg"], sampler=style["sampler"], negative=style["negative"],
                   zero_target_negatives=style["zero_target_negatives"], warmup_steps=style["warmup"]["steps"],
                   warmup_cfg=style["warmup"]["cfg"], swap_steps=swap_step_set(style["swap_steps"], style["steps"]),
                   shared_attention=style.get("shared_attention", False), shared_adain=style.get("shared_adain", True))
    _, expected = visual_style_prompting(tiny_pipeline, run)
    assert_rows_match(images, expected)


def style_image(path):
    """A deterministic 64x64 picture with colour structure (no resize happens at 64x64)."""
    y, x = np.mgrid[0:64, 0:64]
    pixels = np.stack([(x * 4) % 256, (y * 4) % 256, ((x + y) * 37) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


REAL_IMAGE_CASES = {
    # defaults: reference seed 0, target seeds 0, 1, colour calibration on
    "defaults": ([], dict(reference_seed=0, target_seeds=[0, 1], color_calibration=True)),
    "seeds-no-calibration": (["--seeds", "3,4", "--reference-seed", 9, "--no-color-calibration"],
                             dict(reference_seed=9, target_seeds=[3, 4], color_calibration=False)),
}


@pytest.mark.parametrize("case", sorted(REAL_IMAGE_CASES))
def test_real_image_reference_matches_python_vsp(run_vsp, tiny_model, tiny_pipeline, tmp_path, case):
    extra_args, expected_run = REAL_IMAGE_CASES[case]
    image_path = tmp_path / "The starry night.png"
    pixels = style_image(image_path)
    out = tmp_path / "out"
    run_vsp("--style-image", image_path, "--object", "a cat", "--num", 2, "--steps", 10, "--model", tiny_model,
            "--out", out, "-q", *extra_args)
    images, targets = output_images(out)
    seeds = expected_run["target_seeds"]
    assert [p.name for p in targets] == [f"00_a-cat_s{seeds[0]}.png", f"01_a-cat_s{seeds[1]}.png"]

    # DDIM at 10 steps visits t = 901, 801, ..., 101, 1: the calibration window (100, 150) holds t = 101.
    run = StyleRun(reference_prompt="The starry night", target_prompts=["a cat", "a cat"], layers=["up_blocks.1"],
                   steps=10, cfg=7.0, sampler="ddim", style_image=pixels, **expected_run)
    _, expected = visual_style_prompting(tiny_pipeline, run)
    assert_rows_match(images, expected)


def test_style_image_moves_the_images_beyond_the_parity_tolerance(run_vsp, tiny_model, tmp_path):
    """Guards test_real_image_reference_matches_python_vsp: once colour calibration is off, the picture
    reaches the images only through the VAE encoder (the reference's trajectory, then the swapped keys
    and values), so with an encoder whose latents drown in the noise a wrongly prepared picture would
    pass it. Another picture must move the reference and every target beyond TOLERANCE. (Not the
    mirrored picture: attention is blind to the order of the keys and values it is given.)"""
    y, x = np.mgrid[0:64, 0:64]
    other = np.stack([((x // 8 + y // 8) % 2) * 200 + 30, (x * y) % 256, 255 - (y * 6) % 256], axis=-1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    style_image(tmp_path / "a" / "The starry night.png")
    Image.fromarray(other.astype(np.uint8)).save(tmp_path / "b" / "The starry night.png")
    images = {}
    for name in ("a", "b"):
        run_vsp("--style-image", tmp_path / name / "The starry night.png", "--object", "a cat", "--num", 2, "--steps",
                3, "--no-color-calibration", "--model", tiny_model, "--out", tmp_path / f"out_{name}", "-q")
        images[name], _ = output_images(tmp_path / f"out_{name}")
    diffs = np.abs(images["a"] - images["b"]).reshape(len(images["a"]), -1).max(axis=1)
    print(f"another style picture: reference and targets move {['%.2f/255' % (d * 255) for d in diffs]} "
          f"(tolerance {TOLERANCE * 255:.2f}/255)")
    assert (diffs > TOLERANCE).all()
