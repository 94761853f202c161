"""A1111's prompt syntax: `vsp generate` with emphasis, BREAK and prompts past 75 tokens against
diffusers' pipelines given the embeddings of a plain Python reading of A1111 (a1111_prompts.py), on
the tiny SDXL and SD 1.x exports: latents within 1e-4, images within 2/255. A plain prompt reads the
same with or without the syntax (byte for byte); --no-prompt-weights reads the brackets as text;
a weight moves the image beyond the tolerances; style prompting reads the syntax too."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import a1111_prompts
from conftest import DATA
from test_generate_parity import LATENT_TOLERANCE, IMAGE_TOLERANCE, SCHEDULERS, diffusers_generate, \
    vsp_generate

LONG = ", ".join(f"a {word} tower" for word in ("red", "blue", "green", "tall", "old", "stone") * 5)
CASES = {
    "weights": ("a (red:1.5) car on a [foggy] ((beach)), sunset", "(blurry:1.3), low quality"),
    "break": ("a lighthouse BREAK (stormy sea:1.2), oil painting", None),
    "long-with-negative": (LONG, "[ugly] text"),
    "long-zero-negative": (LONG, None),
    "escapes": ("a \\(cat\\) \\[sitting\\] on a mat", None),
}


def reference(pipe, prompt, negative, steps, seed, size):
    torch.set_grad_enabled(False)
    original = pipe.scheduler
    pipe.scheduler = SCHEDULERS["euler"].from_config(original.config)
    try:
        latents = pipe(**a1111_prompts.conditioning(pipe, prompt, negative), num_inference_steps=steps,
                       guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(seed), width=size,
                       height=size, output_type="latent").images
    finally:
        pipe.scheduler = original
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.numpy(), pipe.image_processor.postprocess(image, output_type="np")


def ours(run_vsp, model, tmp_path, prompt, negative):
    return vsp_generate(run_vsp, model, tmp_path, sampler="euler", prompt=prompt, negative=negative, steps=4, cfg=5.0,
                        seed=77, width=64, height=64, num=1)


def assert_parity(got, expected):
    assert got[0].shape == expected[0].shape
    assert np.abs(got[0] - expected[0]).max() <= LATENT_TOLERANCE
    assert np.abs(got[1] - expected[1]).max() <= IMAGE_TOLERANCE


@pytest.fixture(scope="module")
def sd1_pipeline():
    from diffusers import StableDiffusionPipeline
    return StableDiffusionPipeline.from_pretrained(DATA / "sd1-tiny-diffusers", torch_dtype=torch.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdxl_matches_a1111_reading(run_vsp, tiny_model, tiny_pipeline, tmp_path, case):
    prompt, negative = CASES[case]
    assert_parity(ours(run_vsp, tiny_model, tmp_path, prompt, negative),
                  reference(tiny_pipeline, prompt, negative, 4, 77, 64))


@pytest.mark.parametrize("case", ["weights", "break", "long-with-negative"])
def test_sd1_matches_a1111_reading(run_vsp, sd1_model, sd1_pipeline, tmp_path, case):
    prompt, negative = CASES[case]
    assert_parity(ours(run_vsp, sd1_model, tmp_path, prompt, negative),
                  reference(sd1_pipeline, prompt, negative, 4, 77, 64))


def test_reference_reads_a1111s_examples():
    """The reference against A1111's own docstring examples, so that both readings share no mistake."""
    assert a1111_prompts.parse("an (important) word") == [["an ", 1.0], ["important", 1.1], [" word", 1.0]]
    assert a1111_prompts.parse("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).") == [
        ["a ", 1.0], ["house", 1.5730000000000004], [" ", 1.1], ["on", 1.0], [" a ", 1.1], ["hill", 0.55],
        [", sun, ", 1.1], ["sky", 1.4641000000000006], [".", 1.1]]


def run_generate(run_vsp, model, out, prompt, *extra):
    run_vsp("generate", "--model", model, "-p", prompt, "--steps", 3, "--seed", 5, "-W", 64, "-H", 64, "--out", out,
            "--quiet", *extra)
    return np.asarray(Image.open(out))


@pytest.mark.chunking
def test_plain_prompts_read_the_same_either_way(run_vsp, tiny_model, tmp_path):
    prompt = "a photo of a cat: cute, 16:9, highly detailed"
    assert np.array_equal(run_generate(run_vsp, tiny_model, tmp_path / "a.png", prompt),
                          run_generate(run_vsp, tiny_model, tmp_path / "b.png", prompt, "--no-prompt-weights"))


def test_no_prompt_weights_reads_brackets_as_text(run_vsp, tiny_model, tiny_pipeline, tmp_path):
    """diffusers, given the prompt as text, is what --no-prompt-weights must give."""
    prompt = "a (red:1.5) car BREAK at night"
    expected = diffusers_generate(tiny_pipeline, sampler="euler", prompt=prompt, negative=None, steps=4, cfg=5.0,
                                  seed=77, width=64, height=64, num=1)
    run_vsp("generate", "--model", tiny_model, "-p", prompt, "--steps", 4, "--cfg", 5.0, "--seed", 77, "-W", 64, "-H",
            64, "--out", tmp_path / "plain.png", "--save-latents", "plain.npy", "--no-prompt-weights", "--quiet")
    image = np.asarray(Image.open(tmp_path / "plain.png").convert("RGB"), dtype=np.float32)[None] / 255
    assert_parity((np.load(tmp_path / "plain.npy"), image), expected)


def test_a_weight_moves_the_image(run_vsp, tiny_model, tmp_path):
    args = dict(sampler="euler", negative=None, steps=4, cfg=5.0, seed=77, width=64, height=64, num=1)
    plain = vsp_generate(run_vsp, tiny_model, tmp_path, prompt="a red car on a beach", **args)
    weighted = vsp_generate(run_vsp, tiny_model, tmp_path, prompt="a (red car:2) on a beach", **args)
    # The tiny random VAE flattens most of a change into a pixel or two: the latents tell.
    assert np.abs(plain[0] - weighted[0]).max() > 100 * LATENT_TOLERANCE
    assert not np.array_equal(plain[1], weighted[1])


def test_style_prompting_reads_the_syntax(run_vsp, tiny_model, tmp_path):
    """--prompt with a style: a weight changes the target and leaves the reference as it was."""
    def style(out, prompt):
        run_vsp("--style", "fire", "--model", tiny_model, "-W", 64, "-H", 64, "--steps", 2, "-q", "-p", prompt, "-o",
                out)
        return {p.name: np.asarray(Image.open(p)) for p in out.glob("*.png") if p.name != "grid.png"}
    plain = style(tmp_path / "plain", "a whale")
    weighted = style(tmp_path / "weighted", "a (whale:1.8)")
    assert np.array_equal(plain.pop("reference.png"), weighted.pop("reference.png"))
    assert len(plain) == len(weighted) == 1
    assert not np.array_equal(*plain.values(), *weighted.values())


def test_shipped_onepiece_template_reads_as_the_papers_text():
    """The paper's onepiece template has "(extremely detailed)" as text: the shipped one escapes it."""
    text = json.loads((Path(__file__).parents[2] / "configs" / "templates.json").read_text())["onepiece"]["template"]
    pieces = a1111_prompts.parse(text)
    assert len(pieces) == 1 and pieces[0][1] == 1.0
    assert "masterpiece, best quality, (extremely detailed), watercolor" in pieces[0][0]


@pytest.mark.chunking
def test_onepiece_template_reads_the_same_words_either_way(run_vsp, tiny_model, tmp_path):
    """Its escaped brackets are the paper's text in both readings: the same images."""
    def style(out, *extra):
        run_vsp("--style", "fire", "--template", "onepiece", "--object", "a cat", "--model", tiny_model, "-W", 64,
                "-H", 64, "--steps", 2, "-q", "-o", out, *extra)
        return [np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))]
    for a, b in zip(style(tmp_path / "a1111"), style(tmp_path / "plain", "--no-prompt-weights"), strict=True):
        assert np.array_equal(a, b)
