"""`vsp rerun IMAGE.png [flags]`: the job a vsp PNG records runs again, by its own command, with
the flags given on top: the same pixels for generate (a drawn --seed -1 included), style and edit;
a flag changes only what it names; bad input is one line, nothing written."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import exported
from test_bad_input import one_error_line, run, written
from test_output_rules import place  # noqa: F401 (a fixture)

SIZE = ["-W", 64, "-H", 64, "--steps", 2]


def pixels(path):
    return np.asarray(Image.open(path))


def job_of(path):
    return json.loads(Image.open(path).text["vsp"])


@pytest.mark.chunking
def test_generate_reruns_to_the_same_pixels(run_vsp, tiny_model, tmp_path):
    first = tmp_path / "first.png"
    run_vsp("generate", "--model", tiny_model, "-p", "a (red:1.3) fox", "-n", "blurry", "--seed", -1,
            "--sampler", "dpmpp2m", "--cfg", 4, *SIZE, "--out", first, "-q")
    again = tmp_path / "again.png"
    run_vsp("rerun", first, "--model", tiny_model, "--out", again, "-q")
    assert np.array_equal(pixels(first), pixels(again))
    assert job_of(first)["seed"] == job_of(again)["seed"]
    assert job_of(first)["job"] == job_of(again)["job"]


def test_a_flag_changes_only_what_it_names(run_vsp, tiny_model, tmp_path):
    run_vsp("generate", "--model", tiny_model, "-p", "a fox", "--seed", 3, *SIZE, "--out", tmp_path / "a.png", "-q")
    run_vsp("rerun", tmp_path / "a.png", "--model", tiny_model, "--seed", 4, "--out", tmp_path / "b.png", "-q")
    run_vsp("generate", "--model", tiny_model, "-p", "a fox", "--seed", 4, *SIZE, "--out", tmp_path / "c.png", "-q")
    assert np.array_equal(pixels(tmp_path / "b.png"), pixels(tmp_path / "c.png"))
    assert not np.array_equal(pixels(tmp_path / "a.png"), pixels(tmp_path / "b.png"))


@pytest.mark.chunking
def test_style_and_edit_rerun_their_whole_job(run_vsp, tiny_model, tmp_path):
    run_vsp("--style", "fire", "--model", tiny_model, *SIZE, "-p", "a whale", "--num", 2, "-o", tmp_path / "style",
            "-q")
    run_vsp("rerun", tmp_path / "style" / "reference.png", "--model", tiny_model, "-o", tmp_path / "again", "-q")
    names = sorted(p.name for p in (tmp_path / "style").glob("*.png"))
    assert names == sorted(p.name for p in (tmp_path / "again").glob("*.png"))
    for name in names:
        assert np.array_equal(pixels(tmp_path / "style" / name), pixels(tmp_path / "again" / name)), name

    run_vsp("edit", "--model", tiny_model, "-p", "a cat on a mat", "--to", "a dog on a mat", *SIZE, "-o",
            tmp_path / "edit", "-q")
    run_vsp("rerun", tmp_path / "edit" / "edit_1.png", "--model", tiny_model, "-o", tmp_path / "edit2", "-q")
    assert np.array_equal(pixels(tmp_path / "edit" / "edit_1.png"), pixels(tmp_path / "edit2" / "edit_1.png"))


def test_another_export_is_named(run_vsp, tiny_model, sd1_model, tmp_path):
    run_vsp("generate", "--model", tiny_model, "-p", "a fox", *SIZE, "--out", tmp_path / "a.png", "-q")
    result = run_vsp("rerun", tmp_path / "a.png", "--model", sd1_model, "--out", tmp_path / "b.png")
    assert "was made with the export 'tiny'" in result.stderr and "--model" in result.stderr


@pytest.mark.parametrize("case", ["not a png", "no vsp chunk", "no image", "unknown flag"])
def test_bad_input_is_one_line(vsp_bin, place, tiny_model, case):
    (place / "notes.png").write_text("hello")
    Image.new("RGB", (8, 8)).save(place / "plain.png")
    args, code, words = {
        "not a png": (["rerun", "notes.png"], 1, ["notes.png"]),
        "no vsp chunk": (["rerun", "plain.png"], 1, ["plain.png", "no vsp job"]),
        "no image": (["rerun"], 2, ["vsp rerun IMAGE.png"]),
        "unknown flag": (["rerun", "plain.png", "--stpes", "3"], 1, ["plain.png"]),
    }[case]
    before = written(place)
    one_error_line(run(vsp_bin, *args, cwd=place), *words, code=code)
    assert written(place) == before


def test_a_mistyped_override_is_named(vsp_bin, run_vsp, place, tiny_model):
    run_vsp("generate", "--model", tiny_model, "-p", "a fox", *SIZE, "--out", place / "a.png", "-q")
    before = written(place)
    one_error_line(run(vsp_bin, "rerun", "a.png", "--stpes", "3", cwd=place), "--stpes", "did you mean --steps",
                   code=2)
    assert written(place) == before
