"""SD 1.x and SD 2.x beside SDXL, end to end: style prompting and batches on an SD 1.x export, and
the family errors (an unknown family, an SDXL-only option on SD 1.x, a checkpoint of an
unrecognised architecture), each one line, a non-zero exit and nothing written."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import DATA, ROOT, assert_within_chunking_bound
from test_bad_input import one_error_line, run, written
from test_style_cli import run_args, targets


def pixels(path):
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


# 128x128: at 64x64 the tiny SD 1.x UNet's deepest level is one token, and a CPU GEMM over a
# handful of rows picks its kernel by the row count (at real sizes each call has thousands of rows).
SIZE = ("--width", 128, "--height", 128)


@pytest.mark.chunking
@pytest.mark.parametrize("kind", ["generated", "real-image"])
def test_style_on_sd1_chunkings_stay_within_the_bound(run_vsp, sd1_model, tmp_path, kind):
    """Bounded: --batch-size 1 against 4 without --deterministic; byte-identical with it."""
    for batch in (1, 4):
        run_vsp(*run_args(kind, sd1_model, tmp_path, tmp_path / f"b{batch}", "--num", 4, "--batch-size", batch, *SIZE))
    run_vsp(*run_args(kind, sd1_model, tmp_path, tmp_path / "det", "--num", 4, "--deterministic", *SIZE))
    one, four = sorted((tmp_path / "b1").glob("*.png")), sorted((tmp_path / "b4").glob("*.png"))
    assert [p.name for p in one] == [p.name for p in four] and len(targets(tmp_path / "b1")) == 4
    for a, b in zip(one, four):
        assert_within_chunking_bound(pixels(a), pixels(b), f"{a.name}, --batch-size 1 against 4")
        assert np.array_equal(pixels(a), pixels(tmp_path / "det" / a.name)), f"{a.name}: --deterministic"


def test_style_swap_on_sd1_changes_targets_not_the_reference(run_vsp, sd1_model, tmp_path):
    run_vsp(*run_args("generated", sd1_model, tmp_path, tmp_path / "swap", "--num", 2, *SIZE))
    run_vsp(*run_args("generated", sd1_model, tmp_path, tmp_path / "none", "--num", 2, "--swap-steps", "none", *SIZE))
    assert np.array_equal(pixels(tmp_path / "swap" / "reference.png"), pixels(tmp_path / "none" / "reference.png"))
    for swapped, plain in zip(targets(tmp_path / "swap"), targets(tmp_path / "none")):
        assert np.abs(pixels(swapped).astype(int) - pixels(plain).astype(int)).max() > 8, swapped.name
    meta = json.loads(Image.open(tmp_path / "swap" / "reference.png").text["vsp"])
    assert meta["layers"] == ["default"]  # the style files name the preset, which fits every family


def test_batch_runs_sd1_and_sd2_jobs_beside_sdxl(run_vsp, tiny_model, sd1_model, tmp_path):
    jobs = {"defaults": {"steps": 2}, "jobs": [
        {"mode": "generate", "name": "sdxl", "prompt": "a fox", "model": str(tiny_model)},
        {"mode": "generate", "name": "sd1", "prompt": "a fox", "model": str(sd1_model)},
        {"mode": "generate", "name": "sd2", "prompt": "a fox", "model": str(DATA / "sd2-tiny")},
        {"mode": "style", "name": "sd1-fire", "style": "fire", "object": "a cat", "num": 1, "model": str(sd1_model)}]}
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_vsp("batch", tmp_path / "jobs.json", "--out", tmp_path / "out", "-q")
    out = tmp_path / "out"
    assert pixels(next(out.glob("sdxl_*.png"))).shape == (64, 64, 3)
    assert pixels(next(out.glob("sd1_*.png"))).shape == (64, 64, 3)
    assert len(list(out.glob("sd2_*.png"))) == 1 and len(targets(out / "sd1-fire")) == 1


def test_unknown_family_is_refused(vsp_bin, sd1_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(sd1_model, model)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["family"] = "sd3"
    (model / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "out"
    out.mkdir()
    result = run(vsp_bin, "generate", "--model", model, "--prompt", "a fox", "--steps", 2, "--out", out / "a.png")
    one_error_line(result, "'family'", "sd3", "re-export")
    assert written(out) == []


def test_sdxl_only_option_on_sd1_is_refused(vsp_bin, sd1_model, tmp_path):
    styles = tmp_path / "styles"
    styles.mkdir()
    style = json.loads((ROOT / "configs" / "styles" / "flames.json").read_text())
    style["zero_target_negatives"] = True
    (styles / "flames.json").write_text(json.dumps(style))
    out = tmp_path / "out"
    result = run(vsp_bin, "--style", "flames", "--styles", styles, "--model", sd1_model, "--steps", 2, "--out", out)
    one_error_line(result, "zero_target_negatives", "sd1", "false")
    assert not out.exists() or written(out) == []


def export(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "export.py"), *map(str, args)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


def error_line(result):
    assert result.returncode != 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("export.py: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("tensors,words", [
    ({"double_blocks.0.img_attn.qkv.weight": (8, 4)}, ["no Stable Diffusion UNet", "SD 1.x, SD 2.x and SDXL"]),
    ({"model.diffusion_model.input_blocks.0.0.weight": (32, 9, 3, 3)}, ["9 input channels", "inpainting"]),
    ({"model.diffusion_model.input_blocks.0.0.weight": (32, 4, 3, 3),
      "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (32, 512)},
     ["512-wide text conditioning", "--family"]),
], ids=["flux-like", "inpainting", "other-width"])
def test_unrecognised_single_file_checkpoint_is_refused(tmp_path, tensors, words):
    from safetensors.torch import save_file
    checkpoint = tmp_path / "model.safetensors"
    save_file({name: torch.zeros(shape) for name, shape in tensors.items()}, str(checkpoint))
    line = error_line(export("--model", checkpoint, "--out", tmp_path / "exported"))
    for word in words:
        assert word in line, line
    assert not (tmp_path / "exported").exists() and not (tmp_path / "exported.partial").exists()


def test_family_flag_is_for_model_sources_only(tmp_path):
    result = export("--random", "sd1-tiny", "--family", "sdxl", "--out", tmp_path / "x")
    assert result.returncode != 0 and "--family, --controlnet and --depth-model apply to --model" in result.stderr
