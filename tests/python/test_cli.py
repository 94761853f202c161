"""End-to-end CLI behaviour on the tiny export: files, metadata, determinism and bad input."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import assert_latents_within_chunking_bound, assert_within_chunking_bound


def generate_args(model, out, *extra, seed=3):
    return ["generate", "--model", model, "--prompt", "a red fox in the snow", "--steps", 4, "--seed", seed,
            "--out", out, "--quiet", *extra]


@pytest.mark.chunking
def test_same_arguments_give_byte_identical_png(run_vsp, tiny_model, tmp_path):
    """Byte-identity: the same job, chunking and thread count."""
    run_vsp(*generate_args(tiny_model, tmp_path / "a.png"))
    run_vsp(*generate_args(tiny_model, tmp_path / "b.png"))
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.chunking
def test_num_chunks_stay_within_the_bound_and_deterministic_is_one_image_per_call(run_vsp, tiny_model, tmp_path):
    """Bounded: --num 9 runs the UNet on 8 images, then 1; --deterministic on one at a time. The
    two agree within the chunking bound, latents included; --deterministic's last image, which
    ran alone in both, is byte-identical."""
    for name, extra in (("chunked", []), ("deterministic", ["--deterministic"])):
        run_vsp(*generate_args(tiny_model, tmp_path / f"{name}.png", "--num", 9, "--steps", 2,
                               "--save-latents", f"{name}.npy", *extra))
    assert_latents_within_chunking_bound(np.load(tmp_path / "chunked.npy"), np.load(tmp_path / "deterministic.npy"),
                                         "--num 9 against --deterministic")
    for i in range(9):
        a, b = (np.asarray(Image.open(tmp_path / f"{name}-{i}.png")) for name in ("chunked", "deterministic"))
        assert_within_chunking_bound(a, b, f"out-{i}.png")
        if i == 8:
            assert np.array_equal(a, b), "the ninth image runs alone in both: byte-identical"


def test_png_carries_parameters_and_job(run_vsp, tiny_model, tmp_path):
    out = tmp_path / "fox.png"
    run_vsp(*generate_args(tiny_model, out, "--negative", "blurry", "--sampler", "dpmpp2m", "--cfg", 6.5))
    image = Image.open(out)
    assert image.size == (64, 64)
    parameters = image.text["parameters"]
    assert parameters.startswith("a red fox in the snow\nNegative prompt: blurry\n")
    for field in ("Steps: 4", "Sampler: DPM++ 2M", "CFG scale: 6.5", "Seed: 3", "Size: 64x64", "Model: tiny"):
        assert field in parameters
    job = json.loads(image.text["vsp"])
    assert job["mode"] == "generate" and job["negative"] == "blurry" and job["sampler"] == "dpmpp2m"
    assert job["seed"] == 3 and job["steps"] == 4 and len(job["model_hash"]) == 16
    # No path of the user's: the export goes by its folder's name.
    assert job["model"] == "tiny" and str(tiny_model.parent) not in image.text["vsp"] + parameters


def test_seed_changes_the_image(run_vsp, tiny_model, tmp_path):
    run_vsp(*generate_args(tiny_model, tmp_path / "a.png"))
    run_vsp(*generate_args(tiny_model, tmp_path / "b.png", seed=4))
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()


def test_empty_prompt_is_valid(run_vsp, tiny_model, tmp_path):
    run_vsp("generate", "--model", tiny_model, "--prompt", "", "--steps", 2, "--out", tmp_path / "e.png", "-q")
    assert (tmp_path / "e.png").exists()


def test_help_explains_the_flags(run_vsp):
    text = run_vsp("generate", "--help").stdout
    for flag in ("--prompt", "--negative", "--steps", "--cfg", "--seed", "--width", "--height", "--sampler",
                 "--num", "--out", "--model", "--device"):
        assert flag in text


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


def edit_manifest(model, **changes):
    path = model / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def bad_model_other_version(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "model")
    edit_manifest(model, format_version=99)
    return model


def bad_model_corrupt_unet(tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path / "model")
    (model / "unet.pt").write_bytes(b"this is not a TorchScript archive")
    return model


BAD_INPUTS = {
    # name: (how to build the arguments, words the one-line message must contain)
    "missing model": (lambda m, t: generate_args(t / "no-such-model", t / "o.png"), ["not found", "export.py"]),
    "other format version": (lambda m, t: generate_args(bad_model_other_version(m, t), t / "o.png"),
                             ["format_version 99", "re-export"]),
    "corrupt unet": (lambda m, t: generate_args(bad_model_corrupt_unet(m, t), t / "o.png"), ["unet.pt", "re-export"]),
    "unknown sampler": (lambda m, t: generate_args(m, t / "o.png", "--sampler", "heun"), ['--sampler: unknown value "heun"', "euler"]),
    "unsupported size": (lambda m, t: generate_args(m, t / "o.png", "--width", 100), ["100x64", "multiples of 32"]),
    "unwritable output": (lambda m, t: generate_args(m, "/proc/missing-dir/o.png"), ["/proc", "--out"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line(run_vsp, tiny_model, tmp_path, case):
    make_args, words = BAD_INPUTS[case]
    args = make_args(tiny_model, tmp_path)
    result = run_vsp(*args, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert not list(tmp_path.rglob("*.png")), "no partial PNG may be left behind"
    assert not list(tmp_path.rglob("*.tmp*")), "no temporary file may be left behind"


def test_timings_name_every_phase_with_its_memory(run_vsp, tiny_model, tmp_path):
    """--timings (read by scripts/benchmark*.py): totals, then each phase with seconds and memory;
    they do not change the image."""
    import re
    run_vsp(*generate_args(tiny_model, tmp_path / "plain.png"))
    result = run_vsp(*generate_args(tiny_model, tmp_path / "timed.png", "--timings"))
    assert re.search(r"^timings: load [\d.]+ s, generate [\d.]+ s$", result.stderr, re.M)
    phases = re.findall(r"^timings: phase (\S+) ([\d.]+) s, peak RSS (\d+) MiB, RSS after (\d+) MiB$", result.stderr,
                        re.M)
    assert [p[0] for p in phases] == ["load", "text", "denoise", "decode", "write"]
    peaks = [int(p[2]) for p in phases]
    assert peaks == sorted(peaks) and peaks[0] > 50  # the process's peak so far: it never falls
    assert (tmp_path / "plain.png").read_bytes() == (tmp_path / "timed.png").read_bytes()
