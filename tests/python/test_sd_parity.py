"""`vsp generate` on SD 1.x and SD 2.x (v-prediction) exports against diffusers'
StableDiffusionPipeline on the same tiny weights: final latents within 1e-4 and images within
2/255, for every sampler, with no negative (both encode ""), an explicit "" and a real negative, at
two sizes (one non-square) and two batch sizes; that another prompt moves the result beyond those
tolerances."""
import numpy as np
import pytest
import torch

from conftest import DATA, exported
from test_generate_parity import NEGATIVE, OTHER_PROMPT, PROMPT, assert_moved_beyond_the_tolerances, \
    diffusers_generate, vsp_generate

SAMPLERS = ["ddim", "dpmpp2m", "euler"]


@pytest.fixture(scope="module", params=["sd1", "sd2"])
def family(request):
    from diffusers import StableDiffusionPipeline
    torch.set_grad_enabled(False)
    name = f"{request.param}-tiny"
    return exported(name), StableDiffusionPipeline.from_pretrained(DATA / f"{name}-diffusers", torch_dtype=torch.float32)


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("negative", [None, "", NEGATIVE], ids=["no-negative", "empty-negative", "negative"])
@pytest.mark.parametrize("width,height,num", [(64, 64, 1), (128, 64, 2)], ids=["64x64-n1", "128x64-n2"])
def test_generate_matches_stable_diffusion_pipeline(run_vsp, family, tmp_path, sampler, negative, width, height, num):
    model, pipe = family
    args = dict(sampler=sampler, prompt=PROMPT, negative=negative, steps=6, cfg=6.0, seed=4321, width=width,
                height=height, num=num)
    ref_latents, ref_images = diffusers_generate(pipe, **args)
    latents, images = vsp_generate(run_vsp, model, tmp_path, **args)
    assert latents.shape == ref_latents.shape
    assert np.abs(latents - ref_latents).max() <= 1e-4
    assert images.shape == ref_images.shape
    assert np.abs(images - ref_images).max() <= 2 / 255 + 1e-6


def test_prompt_moves_the_image_beyond_the_parity_tolerance(run_vsp, family, tmp_path):
    """Guards test_generate_matches_stable_diffusion_pipeline: with a text encoder (or UNet) that
    ignored the tokens, a tokenizer or encoder bug would pass it. Another prompt must move the result
    beyond its tolerances."""
    model, _ = family
    args = dict(sampler="ddim", negative=NEGATIVE, steps=3, cfg=6.0, seed=4321, width=64, height=64, num=1)
    runs = [vsp_generate(run_vsp, model, tmp_path, prompt=prompt, **args) for prompt in (PROMPT, OTHER_PROMPT)]
    assert_moved_beyond_the_tolerances(f"{model.name}, another prompt", *runs)


def test_no_negative_is_the_empty_prompt(run_vsp, family, tmp_path):
    """SD 1.x/2.x encode "" when no negative is given (no zero embeddings): both runs are equal."""
    model, _ = family
    common = ["generate", "--model", model, "--prompt", PROMPT, "--steps", 3, "--seed", 5, "--quiet"]
    run_vsp(*common, "--out", tmp_path / "absent.png", "--save-latents", "absent.npy")
    run_vsp(*common, "--negative", "", "--out", tmp_path / "empty.png", "--save-latents", "empty.npy")
    assert np.array_equal(np.load(tmp_path / "absent.npy"), np.load(tmp_path / "empty.npy"))
