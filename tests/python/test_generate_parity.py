"""`vsp generate` against diffusers' StableDiffusionXLPipeline on the same tiny weights: final
latents within 1e-4 and images within 2/255 (fp32, CPU), for every sampler, with and without a
negative prompt, at two resolutions and two batch sizes from one export; that another prompt, and
each text encoder alone, moves the result beyond those tolerances."""
import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler
from PIL import Image

SCHEDULERS = {"euler": EulerDiscreteScheduler, "ddim": DDIMScheduler, "dpmpp2m": DPMSolverMultistepScheduler}
PROMPT = "a photo of an astronaut riding a horse on mars, highly detailed"
NEGATIVE = "blurry, low quality"


def diffusers_generate(pipe, sampler, prompt, negative, steps, cfg, seed, width, height, num):
    original = pipe.scheduler
    pipe.scheduler = SCHEDULERS[sampler].from_config(original.config)
    try:
        latents = pipe(prompt=prompt, negative_prompt=negative, num_inference_steps=steps, guidance_scale=cfg,
                       generator=torch.Generator("cpu").manual_seed(seed), width=width, height=height,
                       num_images_per_prompt=num, output_type="latent").images
    finally:
        pipe.scheduler = original
    image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
    return latents.numpy(), pipe.image_processor.postprocess(image, output_type="np")


LATENT_TOLERANCE = 1e-4
IMAGE_TOLERANCE = 2 / 255 + 1e-6
OTHER_PROMPT = "an oil painting of a lighthouse on a cliff at dawn"


def vsp_generate(run_vsp, model, tmp_path, sampler, prompt, negative, steps, cfg, seed, width, height, num):
    out, latents = tmp_path / "out.png", tmp_path / "latents.npy"
    args = ["generate", "--model", model, "--prompt", prompt, "--steps", steps, "--cfg", cfg, "--seed", seed,
            "--width", width, "--height", height, "--sampler", sampler, "--num", num, "--out", out,
            "--save-latents", latents.name, "--quiet", "--overwrite"]  # each call replaces the last
    if negative is not None:
        args += ["--negative", negative]
    run_vsp(*args)
    paths = [out] if num == 1 else [tmp_path / f"out-{i}.png" for i in range(num)]
    images = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255 for p in paths])
    return np.load(latents), images


@pytest.mark.parametrize("sampler", sorted(SCHEDULERS))
@pytest.mark.parametrize("negative", [None, NEGATIVE], ids=["zero-negative", "negative"])
@pytest.mark.parametrize("width,height,num", [(64, 64, 1), (96, 64, 2)], ids=["64x64-n1", "96x64-n2"])
def test_generate_matches_diffusers(run_vsp, tiny_model, tiny_pipeline, tmp_path, sampler, negative, width, height, num):
    args = dict(sampler=sampler, prompt=PROMPT, negative=negative, steps=8, cfg=5.0, seed=1234, width=width,
                height=height, num=num)
    ref_latents, ref_images = diffusers_generate(tiny_pipeline, **args)
    latents, images = vsp_generate(run_vsp, tiny_model, tmp_path, **args)
    assert latents.shape == ref_latents.shape
    assert np.abs(latents - ref_latents).max() <= LATENT_TOLERANCE
    assert images.shape == ref_images.shape
    assert np.abs(images - ref_images).max() <= IMAGE_TOLERANCE


def assert_moved_beyond_the_tolerances(what, a, b):
    """a, b: (latents, images) of two runs that must differ by more than the parity tolerances."""
    latent_diff, image_diff = np.abs(a[0] - b[0]).max(), np.abs(a[1] - b[1]).max()
    print(f"{what}: latents move {latent_diff:.3g} (tolerance {LATENT_TOLERANCE:g}), images "
          f"{image_diff * 255:.2f}/255 (tolerance {IMAGE_TOLERANCE * 255:.2f}/255)")
    assert latent_diff > LATENT_TOLERANCE, f"{what} leaves the latents within the parity tolerance"
    assert image_diff > IMAGE_TOLERANCE, f"{what} leaves the images within the parity tolerance"


def test_prompt_moves_the_image_beyond_the_parity_tolerance(run_vsp, tiny_model, tiny_pipeline, tmp_path):
    """Guards test_generate_matches_diffusers: with random text encoders whose output ignored the
    tokens (or a UNet that ignored them), a tokenizer or encoder bug would pass it. Another prompt
    must move vsp's result beyond the tolerances, and so must each of SDXL's two encoders alone
    (diffusers' prompt_2 feeds text_encoder_2 only; vsp gives both the same prompt)."""
    args = dict(sampler="euler", negative=NEGATIVE, steps=3, cfg=5.0, seed=1234, width=64, height=64, num=1)
    ours = {prompt: vsp_generate(run_vsp, tiny_model, tmp_path, prompt=prompt, **args)
            for prompt in (PROMPT, OTHER_PROMPT)}
    assert_moved_beyond_the_tolerances("vsp, another prompt", ours[PROMPT], ours[OTHER_PROMPT])

    def reference(prompt, prompt_2):
        pipe = tiny_pipeline
        latents = pipe(prompt=prompt, prompt_2=prompt_2, negative_prompt=NEGATIVE, num_inference_steps=3,
                       guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(1234), width=64, height=64,
                       output_type="latent").images
        image = pipe.image_processor.postprocess(pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample,
                                                 output_type="np")
        return latents.numpy(), image

    both = reference(PROMPT, PROMPT)
    assert np.abs(both[0] - ours[PROMPT][0]).max() <= LATENT_TOLERANCE  # the same run as vsp's
    assert_moved_beyond_the_tolerances("text_encoder alone", both, reference(OTHER_PROMPT, PROMPT))
    assert_moved_beyond_the_tolerances("text_encoder_2 alone", both, reference(PROMPT, OTHER_PROMPT))


@pytest.mark.parametrize("cfg", [1.0, 7.5])
def test_empty_negative_is_encoded_and_cfg_one_skips_guidance(run_vsp, tiny_model, tiny_pipeline, tmp_path, cfg):
    """An explicit "" negative is encoded as text (not zeros); cfg <= 1 runs without guidance."""
    args = dict(sampler="euler", prompt="", negative="", steps=5, cfg=cfg, seed=7, width=64, height=64, num=1)
    ref_latents, _ = diffusers_generate(tiny_pipeline, **args)
    latents, _ = vsp_generate(run_vsp, tiny_model, tmp_path, **args)
    assert np.abs(latents - ref_latents).max() <= 1e-4
