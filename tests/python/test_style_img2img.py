"""`vsp --style NAME --image IN.png --strength S`: the targets start from the picture (image to image)
while the reference runs as without it. Against the Python VSP (vsp_reference.py) extended with
diffusers' img2img preparation per target: every image within 2/255. The reference is byte for
byte the same as without the picture, for every sampler; bad input is one line, exit 2."""
import numpy as np
import pytest
from PIL import Image

from test_bad_input import one_error_line, run, written
from test_output_rules import picture, place  # noqa: F401 (a fixture)
from test_style_parity import OBJECTS, TEMPLATE, assert_rows_match, output_images, write_style
from vsp_reference import StyleRun, visual_style_prompting


def run_style(run_vsp, model, styles, out, *extra):
    run_vsp("--style", "test-style", "--styles", styles, "--model", model, "--out", out, "-q", *extra)
    return output_images(out)[0]


@pytest.mark.parametrize("sampler,strength", [("euler", 0.5), ("euler", 1.0), ("ddim", 0.75)])
def test_matches_python_vsp(run_vsp, tiny_model, tiny_pipeline, tmp_path, sampler, strength):
    style = write_style(tmp_path / "styles", "test-style", targets=OBJECTS[:2], seeds=[4, 8], sampler=sampler)
    image = picture(tmp_path / "in.png")
    images = run_style(run_vsp, tiny_model, tmp_path / "styles", tmp_path / "out", "--image", image, "--strength",
                       strength)
    run = StyleRun(reference_prompt=TEMPLATE.format(object=style["reference_object"]),
                   target_prompts=[TEMPLATE.format(object=o) for o in style["targets"]],
                   reference_seed=style["reference_seed"], target_seeds=style["seeds"], layers=style["layers"],
                   steps=style["steps"], cfg=style["cfg"], sampler=sampler, negative=style["negative"],
                   warmup_steps=style["warmup"]["steps"], warmup_cfg=style["warmup"]["cfg"],
                   target_image=np.asarray(Image.open(image).convert("RGB")), strength=strength)
    assert_rows_match(images, visual_style_prompting(tiny_pipeline, run)[1])


@pytest.mark.chunking
@pytest.mark.parametrize("sampler", ["euler", "dpmpp2m", "euler-a", "ddim"])
def test_the_reference_is_unaffected(run_vsp, tiny_model, tmp_path, sampler):
    write_style(tmp_path / "styles", "test-style", targets=OBJECTS[:2], seeds=[4, 8], sampler=sampler)
    image = picture(tmp_path / "in.png")
    plain = run_style(run_vsp, tiny_model, tmp_path / "styles", tmp_path / "plain")
    started = run_style(run_vsp, tiny_model, tmp_path / "styles", tmp_path / "started", "--image", image,
                        "--strength", 0.6)
    assert np.array_equal(plain[0], started[0])  # the pixels (the metadata records the job)
    assert np.abs(plain[1:] - started[1:]).max() > 8 / 255


@pytest.mark.parametrize("sampler", ["dpmpp2m", "euler-a", "lcm"])
def test_a_late_target_runs_as_generate_would(run_vsp, tiny_model, tmp_path, sampler):
    """A target starting late takes a first-order DPM++ step there, and draws its Euler a or LCM
    step noise from its own generator from there, as a run begun at that step: with no swap after
    it, it is generate --image's image."""
    write_style(tmp_path / "styles", "test-style", targets=OBJECTS[:1], seeds=[4], sampler=sampler,
                swap_steps="0-0", warmup={"cfg": 7.0, "steps": 0})
    image = picture(tmp_path / "in.png")
    styled = run_style(run_vsp, tiny_model, tmp_path / "styles", tmp_path / "out", "--image", image, "--strength",
                       0.5, "--swap-steps", "0-0")
    run_vsp("generate", "--model", tiny_model, "--prompt", TEMPLATE.format(object=OBJECTS[0]), "--negative", "",
            "--image", image, "--strength", 0.5, "--steps", 8, "--cfg", 7.0, "--seed", 4, "--sampler", sampler,
            "-W", 64, "-H", 64, "--out", tmp_path / "alone.png", "-q")
    alone = np.asarray(Image.open(tmp_path / "alone.png").convert("RGB"), dtype=np.float32) / 255
    assert np.abs(styled[1] - alone).max() <= 2 / 255 + 1e-6


@pytest.mark.parametrize("case", ["strength alone", "strength 0", "no step", "missing picture"])
def test_bad_input_is_one_line(vsp_bin, place, tiny_model, case):
    base = ["--style", "fire", "--model", tiny_model, "-W", 64, "-H", 64, "--steps", 4, "-q", "--out", "out"]
    args, code, words = {
        "strength alone": ([*base, "--strength", 0.5], 2, ["--strength", "--image"]),
        "strength 0": ([*base, "--image", "cat.png", "--strength", 0], 2, ["--strength"]),
        "no step": ([*base, "--image", "cat.png", "--strength", 0.2], 2, ["runs none", "--steps"]),
        "missing picture": ([*base, "--image", "nowhere.png"], 1, ["nowhere.png"]),
    }[case]
    before = written(place)
    one_error_line(run(vsp_bin, *args, cwd=place), *words, code=code)
    assert written(place) == before
