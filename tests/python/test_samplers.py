"""The Karras-sigma samplers against diffusers' schedulers with use_karras_sigmas=True, Euler
ancestral against EulerAncestralDiscreteScheduler and LCM against LCMScheduler (their step noise
from the pipeline's generator), on
the tiny SDXL, SD 1.x and SD 2.x exports, at two step counts: final latents within 1e-4, images
within 2/255; their A1111 and ComfyUI names; Euler a's noise is each row's own."""
import numpy as np
import pytest
import torch
from diffusers import (DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler,
                       LCMScheduler)
from PIL import Image

from test_generate_parity import IMAGE_TOLERANCE, LATENT_TOLERANCE, vsp_generate
from test_sd_parity import family  # noqa: F401 (a fixture)

KARRAS = {"euler-karras": EulerDiscreteScheduler, "dpmpp2m-karras": DPMSolverMultistepScheduler}


def diffusers_scheduler(sampler, config):
    if sampler == "euler-a":
        return EulerAncestralDiscreteScheduler.from_config(config)
    if sampler == "lcm":
        return LCMScheduler.from_config(config)
    return KARRAS[sampler].from_config(config, use_karras_sigmas=True)


def diffusers_run(pipe, sampler, steps, seed, num=1):
    original = pipe.scheduler
    pipe.scheduler = diffusers_scheduler(sampler, original.config)
    try:
        latents = pipe(prompt="a lighthouse on a cliff", num_inference_steps=steps, guidance_scale=5.0,
                       generator=torch.Generator("cpu").manual_seed(seed), width=64, height=64,
                       num_images_per_prompt=num, output_type="latent").images
    finally:
        pipe.scheduler = original
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.numpy(), pipe.image_processor.postprocess(image, output_type="np")


def latent_tolerance(sampler, expected):
    """LCM ends on an x0 prediction, (x - sqrt(1 - abar) eps) / sqrt(abar): from t = 999 that scales
    the UNet's float rounding by 1 / sqrt(abar) = 15, and the random tiny UNet's latents reach 50
    (DDIM on a trailing t = 999 step shows the same 9e-5). So LCM's tolerance is 1e-4 per 10 of the
    latents' scale."""
    return LATENT_TOLERANCE * (max(1.0, float(np.abs(expected).max()) / 10) if sampler == "lcm" else 1.0)


def check(run_vsp, model, pipe, tmp_path, sampler, steps, name=None, num=1):
    expected = diffusers_run(pipe, sampler, steps, 21, num)
    got = vsp_generate(run_vsp, model, tmp_path, sampler=name or sampler, prompt="a lighthouse on a cliff",
                       negative=None, steps=steps, cfg=5.0, seed=21, width=64, height=64, num=num)
    assert np.abs(got[0] - expected[0]).max() <= latent_tolerance(sampler, expected[0])
    assert np.abs(got[1] - expected[1]).max() <= IMAGE_TOLERANCE


@pytest.mark.parametrize("steps", [6, 20])
@pytest.mark.parametrize("sampler", [*sorted(KARRAS), "euler-a", "lcm"])
def test_sdxl_sampler_matches_diffusers(run_vsp, tiny_model, tiny_pipeline, tmp_path, sampler, steps):
    check(run_vsp, tiny_model, tiny_pipeline, tmp_path, sampler, steps)


@pytest.mark.parametrize("sampler", [*sorted(KARRAS), "euler-a", "lcm"])
def test_sd_families_samplers_match_diffusers(run_vsp, family, tmp_path, sampler):
    model, pipe = family
    check(run_vsp, model, pipe, tmp_path, sampler, 8)


@pytest.mark.parametrize("name,sampler", [("DPM++ 2M Karras", "dpmpp2m-karras"), ("dpmpp_2m_karras", "dpmpp2m-karras"),
                                          ("Euler Karras", "euler-karras"), ("Euler a", "euler-a"),
                                          ("euler_ancestral", "euler-a"), ("LCM", "lcm"),
                                          ("LCMScheduler", "lcm")])
def test_other_tools_names(run_vsp, tiny_model, tiny_pipeline, tmp_path, name, sampler):
    check(run_vsp, tiny_model, tiny_pipeline, tmp_path, sampler, 6, name=name)


@pytest.mark.parametrize("sampler", ["euler-a", "lcm"])
def test_step_noise_draws_several_images_from_one_generator(run_vsp, tiny_model, tiny_pipeline, tmp_path, sampler):
    check(run_vsp, tiny_model, tiny_pipeline, tmp_path, sampler, 5, num=2)


def test_lcm_runs_at_most_its_grid(run_vsp, tiny_model, tmp_path):
    result = run_vsp("generate", "--model", tiny_model, "-p", "x", "--sampler", "lcm", "--steps", 51, "-W", 64, "-H",
                     64, "--out", tmp_path / "a.png", check=False)
    assert result.returncode == 2 and "at most 50 steps" in result.stderr, result.stderr
    assert not (tmp_path / "a.png").exists()


@pytest.mark.chunking
def test_euler_a_noise_is_each_style_rows_own(run_vsp, tiny_model, tmp_path):
    """A target's step noise comes from its own seed: alone or beside another, the same image."""
    def style(out, *objects):
        args = [a for o in objects for a in ("--object", o)]
        run_vsp("--style", "fire", "--model", tiny_model, "-W", 64, "-H", 64, "--steps", 3, "--sampler", "euler-a",
                "--deterministic", "-q", "-o", out, *args)
        return [np.asarray(Image.open(p)) for p in sorted(out.glob("0*.png"))]
    alone = style(tmp_path / "alone", "a whale")
    together = style(tmp_path / "together", "a whale", "a bird")
    assert len(alone) == 1 and len(together) == 2
    assert np.array_equal(alone[0], together[0])
    assert not np.array_equal(together[0], together[1])


def test_unknown_sampler_lists_the_samplers(run_vsp, tiny_model, tmp_path):
    result = run_vsp("generate", "--model", tiny_model, "-p", "x", "--sampler", "DPM++ SDE", "--out",
                     tmp_path / "a.png", check=False)
    assert result.returncode == 2 and "euler-a" in result.stderr, result.stderr


@pytest.mark.parametrize("sampler", ["euler", "ddim", "dpmpp2m", "euler-a"])
def test_trailing_spacing_matches_diffusers(run_vsp, tiny_model, tiny_pipeline, tmp_path, sampler):
    """Few-step models' setting: --timestep-spacing trailing, as diffusers' from_config(timestep_spacing=...)."""
    from diffusers import DDIMScheduler
    classes = {"euler": EulerDiscreteScheduler, "ddim": DDIMScheduler, "dpmpp2m": DPMSolverMultistepScheduler,
               "euler-a": EulerAncestralDiscreteScheduler}
    original = tiny_pipeline.scheduler
    tiny_pipeline.scheduler = classes[sampler].from_config(original.config, timestep_spacing="trailing")
    try:
        expected = tiny_pipeline(prompt="a lighthouse on a cliff", num_inference_steps=4, guidance_scale=5.0,
                                 generator=torch.Generator("cpu").manual_seed(21), width=64, height=64,
                                 output_type="latent").images.numpy()
    finally:
        tiny_pipeline.scheduler = original
    run_vsp("generate", "--model", tiny_model, "-p", "a lighthouse on a cliff", "--steps", 4, "--cfg", 5.0, "--seed",
            21, "-W", 64, "-H", 64, "--sampler", sampler, "--timestep-spacing", "trailing", "--out",
            tmp_path / "t.png", "--save-latents", "t.npy", "-q")
    assert np.abs(np.load(tmp_path / "t.npy") - expected).max() <= LATENT_TOLERANCE
