"""Tiled VAE decoding (--vae-tiling) against diffusers' AutoencoderKL.tiled_decode on the same
latents: within 2/255. The tiny VAE's tile is 64 pixels, so a 160x96 image has edge tiles of
every size; `auto` tiles only above four tiles' area."""
import numpy as np
import pytest
import torch
from PIL import Image


def generate(run_vsp, model, tmp_path, name, width, height, tiling):
    out, latents = tmp_path / f"{name}.png", tmp_path / f"{name}.npy"
    run_vsp("generate", "--model", model, "--prompt", "a lighthouse", "--steps", 4, "--seed", 5, "--width", width,
            "--height", height, "--vae-tiling", tiling, "--out", out, "--save-latents", latents.name, "--quiet")
    return np.load(latents), np.asarray(Image.open(out).convert("RGB"), dtype=np.float32) / 255


def diffusers_decode(pipe, latents, tiled):
    vae = pipe.vae
    if tiled:
        vae.enable_tiling()
    try:
        with torch.no_grad():
            image = vae.decode(torch.from_numpy(latents) / vae.config.scaling_factor).sample
    finally:
        vae.disable_tiling()
    return pipe.image_processor.postprocess(image, output_type="np")[0]


@pytest.mark.parametrize("width,height", [(160, 96), (96, 160), (128, 128)])
def test_tiled_decode_matches_diffusers(run_vsp, tiny_model, tiny_pipeline, tmp_path, width, height):
    latents, image = generate(run_vsp, tiny_model, tmp_path, "tiled", width, height, "on")
    reference = diffusers_decode(tiny_pipeline, latents, tiled=True)
    assert image.shape == reference.shape == (height, width, 3)
    assert np.abs(image - reference).max() <= 2 / 255 + 1e-6
    # Tiles leave their mark: the whole decode differs, so the comparison above tests tiling.
    whole = diffusers_decode(tiny_pipeline, latents, tiled=False)
    assert np.abs(whole - reference).max() > 4 / 255


def test_auto_tiles_above_four_tiles_area(run_vsp, tiny_model, tmp_path):
    # 160x96 is under 4 x 64 x 64 pixels: auto decodes it whole; 160x128 is over: auto tiles it.
    _, small_auto = generate(run_vsp, tiny_model, tmp_path, "small-auto", 160, 96, "auto")
    _, small_off = generate(run_vsp, tiny_model, tmp_path, "small-off", 160, 96, "off")
    _, small_on = generate(run_vsp, tiny_model, tmp_path, "small-on", 160, 96, "on")
    assert np.array_equal(small_auto, small_off) and not np.array_equal(small_auto, small_on)
    _, large_auto = generate(run_vsp, tiny_model, tmp_path, "large-auto", 160, 128, "auto")
    _, large_on = generate(run_vsp, tiny_model, tmp_path, "large-on", 160, 128, "on")
    assert np.array_equal(large_auto, large_on)


def test_bad_tiling_value_is_a_usage_error(run_vsp, tiny_model, tmp_path):
    result = run_vsp("generate", "--model", tiny_model, "--vae-tiling", "yes", "--out", tmp_path / "x.png", check=False)
    assert result.returncode == 2 and "--vae-tiling" in result.stderr and "auto" in result.stderr
    assert not (tmp_path / "x.png").exists()
