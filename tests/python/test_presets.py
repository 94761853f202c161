"""`vsp generate --preset NAME` (configs/presets.json): the few-step settings of SDXL-Turbo,
SDXL-Lightning and LCM models. A preset equals its flags given by hand, byte for byte; a flag given
wins over it; the turbo and lightning settings match diffusers' scheduler with trailing spacing at
guidance 0 (the conditional rows alone); an unknown name is one line with the closest."""
import json

import numpy as np
import pytest
import torch
from diffusers import EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, LCMScheduler
from PIL import Image

from conftest import ROOT
from test_samplers import latent_tolerance

PRESETS = json.loads((ROOT / "configs/presets.json").read_text())
SCHEDULERS = {"euler-a": EulerAncestralDiscreteScheduler, "euler": EulerDiscreteScheduler, "lcm": LCMScheduler}


def generate(run_vsp, model, tmp_path, name, *args):
    run_vsp("generate", "--model", model, "-p", "a red fox in snow", "--seed", 5, "-W", 64, "-H", 64, "--out",
            tmp_path / f"{name}.png", "--save-latents", f"{name}.npy", "-q", *args)
    pixels = np.asarray(Image.open(tmp_path / f"{name}.png").convert("RGB"))
    return pixels, np.load(tmp_path / f"{name}.npy")


@pytest.mark.chunking
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_preset_is_its_flags(run_vsp, tiny_model, tmp_path, preset):
    fields = PRESETS[preset]
    flags = ["--steps", fields["steps"], "--cfg", fields["cfg"], "--sampler", fields["sampler"]]
    if "timestep_spacing" in fields:
        flags += ["--timestep-spacing", fields["timestep_spacing"]]
    by_name = generate(run_vsp, tiny_model, tmp_path, "named", "--preset", preset)
    by_hand = generate(run_vsp, tiny_model, tmp_path, "flags", *flags)
    assert np.array_equal(by_name[0], by_hand[0]) and np.array_equal(by_name[1], by_hand[1])


@pytest.mark.chunking
def test_a_given_flag_wins(run_vsp, tiny_model, tmp_path):
    one = generate(run_vsp, tiny_model, tmp_path, "one", "--preset", "turbo")
    two = generate(run_vsp, tiny_model, tmp_path, "two", "--preset", "turbo", "--steps", 2)
    flags = generate(run_vsp, tiny_model, tmp_path, "flags", "--steps", 2, "--cfg", 0, "--sampler", "euler-a",
                     "--timestep-spacing", "trailing")
    assert np.array_equal(two[0], flags[0]) and not np.array_equal(one[0], two[0])


@pytest.mark.parametrize("preset,steps", [("turbo", 1), ("turbo", 4), ("lightning", 4), ("lcm", 4)])
def test_matches_diffusers(run_vsp, tiny_model, tiny_pipeline, tmp_path, preset, steps):
    fields = PRESETS[preset]
    original = tiny_pipeline.scheduler
    spacing = {"timestep_spacing": fields["timestep_spacing"]} if "timestep_spacing" in fields else {}
    tiny_pipeline.scheduler = SCHEDULERS[fields["sampler"]].from_config(original.config, **spacing)
    try:
        expected = tiny_pipeline(prompt="a red fox in snow", num_inference_steps=steps,
                                 guidance_scale=fields["cfg"], generator=torch.Generator("cpu").manual_seed(5),
                                 width=64, height=64, output_type="latent").images.numpy()
    finally:
        tiny_pipeline.scheduler = original
    _, latents = generate(run_vsp, tiny_model, tmp_path, "p", "--preset", preset, "--steps", steps)
    assert np.abs(latents - expected).max() <= latent_tolerance(fields["sampler"], expected)


def test_the_metadata_records_the_preset(run_vsp, tiny_model, tmp_path):
    generate(run_vsp, tiny_model, tmp_path, "m", "--preset", "lightning")
    record = json.loads(Image.open(tmp_path / "m.png").text["vsp"])
    assert record["job"]["preset"] == "lightning" and record["steps"] == 4 and record["sampler"] == "euler"


def test_unknown_preset(run_vsp, tiny_model, tmp_path):
    result = run_vsp("generate", "--model", tiny_model, "-p", "x", "--preset", "turb", "--out", tmp_path / "a.png",
                     check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'turbo'" in lines[0] and "--preset" in lines[0], result.stderr
    assert not (tmp_path / "a.png").exists()
