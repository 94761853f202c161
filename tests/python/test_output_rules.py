"""The one rule for output files (README, "Output files"): every file a command or a jobs field
names lies inside the output folder; a run's (and a batch's) files are checked together for
collisions and for anything in their way before any compute; one run at a time writes a folder."""
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import exported
from test_bad_input import batch_file, one_error_line, run, written

SIZE = ["-W", 64, "-H", 64, "--steps", 2, "-q"]


def picture(path):
    y, x = np.mgrid[0:64, 0:64]
    Image.fromarray(np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def place(tmp_path):
    """tmp_path/work: the run's current folder, with cat.png and ink.png; outputs go to work/out."""
    work = tmp_path / "work"
    work.mkdir()
    picture(work / "cat.png")
    picture(work / "ink.png")
    return work


def edit(*extra):
    return ["edit", "--model", exported("tiny"), "-p", "a cat", "--to", "a dog", *SIZE, *extra]


def image_edit(*extra):
    return edit("--image", "cat.png", *extra)


def transfer(*extra):
    return ["transfer", "--model", exported("tiny"), "--content", "cat.png", "--style", "ink.png", *SIZE, *extra]


def generate(*extra):
    return ["generate", "--model", exported("tiny"), "-p", "a cat", *SIZE, *extra]


# Each flag that names an output file or folder, as the command line gives it.
OUTPUT_FLAGS = {
    "edit --save-null-text": lambda value: image_edit("--save-null-text", value, "-o", "out"),
    "edit --save-attention": lambda value: edit("--save-attention", value, "-o", "out"),
    "edit --save-latents": lambda value: edit("--save-latents", value, "-o", "out"),
    "transfer --save-latents": lambda value: transfer("--save-latents", value, "-o", "out"),
    "generate --save-latents": lambda value: generate("--save-latents", value, "-o", "out/a.png"),
}
ESCAPES = {"parent": "../escaped.npy", "deep parent": "sub/../../../escaped.npy", "absolute": "ABSOLUTE"}


def escaping(escape, place, folder):
    """The path of ESCAPES[escape] out of the run in `place`: a folder's name has no extension."""
    value = str(place.parent / "escaped.npy") if ESCAPES[escape] == "ABSOLUTE" else ESCAPES[escape]
    return value.removesuffix(".npy") if folder else value


@pytest.mark.parametrize("flag", sorted(OUTPUT_FLAGS))
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_no_output_flag_writes_outside_the_output_folder(vsp_bin, place, flag, escape):
    value = escaping(escape, place, folder=flag.endswith("--save-attention"))
    before = written(place.parent)
    result = run(vsp_bin, *OUTPUT_FLAGS[flag](value), cwd=place)
    one_error_line(result, flag.split()[1], "output folder", code=2)
    assert written(place.parent) == before  # nothing anywhere: not outside, not in out/


# Each jobs field that names an output, with the job that takes it.
OUTPUT_FIELDS = {
    "save_null_text": {"mode": "edit", "prompt": "a cat", "to": "a dog", "image": "cat.png"},
    "save_attention": {"mode": "edit", "prompt": "a cat", "to": "a dog"},
}


@pytest.mark.parametrize("field", sorted(OUTPUT_FIELDS))
@pytest.mark.parametrize("escape", sorted(ESCAPES))
def test_no_jobs_field_writes_outside_the_output_folder(vsp_bin, place, field, escape):
    value = escaping(escape, place, folder=field == "save_attention")
    jobs = batch_file(place, {**OUTPUT_FIELDS[field], "name": "j", field: value}, steps=2, width=64, height=64)
    before = written(place.parent)
    result = run(vsp_bin, "batch", jobs, "--model", exported("tiny"), "--out", "out", "-q", cwd=place)
    line = one_error_line(result, f'"{field}"', "jobs[0]", code=1)
    assert "--save" not in line  # the field as written in the file, not its flag
    assert written(place.parent) == before


def test_outputs_inside_the_folder_go_to_subfolders_made_for_them(vsp_bin, place):
    """A missing subfolder is no error: it is made (it used to fail after the whole inversion)."""
    result = run(vsp_bin, *image_edit("--inversion", "null-text", "--save-null-text", "sub/dir/nt.npy",
                                      "--save-latents", "lat/latents.npy", "-o", "out"), cwd=place)
    assert result.returncode == 0, result.stderr
    assert np.load(place / "out" / "sub" / "dir" / "nt.npy").ndim >= 2
    assert np.load(place / "out" / "lat" / "latents.npy").shape[0] == 2


@pytest.mark.parametrize("case", ["latents on null-text", "null-text inside the maps"])
def test_two_outputs_on_one_file_are_refused_before_compute(vsp_bin, place, case):
    args = {"latents on null-text": ["--save-null-text", "nt.npy", "--save-latents", "nt.npy"],
            "null-text inside the maps": ["--save-null-text", "maps/source.npy", "--save-attention", "maps"]}[case]
    result = run(vsp_bin, *image_edit(*args, "-o", "out"), cwd=place)
    one_error_line(result, "--save-null-text", "both write", code=2)
    assert not (place / "out").exists()


def test_a_batch_job_writing_another_jobs_file_is_refused_before_compute(vsp_bin, place):
    jobs = batch_file(place, {"mode": "edit", "name": "a", "prompt": "a cat", "to": "a dog", "image": "cat.png",
                              "save_null_text": "maps/source.npy", "save_attention": "maps"},
                      {"mode": "generate", "name": "b", "prompt": "a cat"}, steps=2, width=64, height=64)
    result = run(vsp_bin, "batch", jobs, "--model", exported("tiny"), "--out", "out", "-q", cwd=place)
    line = one_error_line(result, "a/maps/source.npy", '"save_null_text"', '"save_attention"', code=1)
    assert "--save" not in line
    assert not (place / "out").exists()


@pytest.mark.parametrize("case", ["maps folder is a file", "image is a folder", "transfer name is a folder",
                                  "out is a file"])
def test_outputs_blocked_on_disk_fail_before_compute(vsp_bin, place, case):
    out = place / "out"
    out.mkdir()
    if case == "maps folder is a file":
        (out / "maps").write_text("a file")
        args, words = edit("--save-attention", "maps", "-o", "out"), ["maps", "is a file"]
    elif case == "image is a folder":
        (out / "edit_1.png").mkdir()
        args, words = edit("-o", "out"), ["edit_1.png", "is a folder"]
    elif case == "transfer name is a folder":
        (out / "cat_stylized_ink.png").mkdir()
        args, words = transfer("-o", "out"), ["cat_stylized_ink.png", "is a folder"]
    else:
        out.rmdir()
        out.write_text("a file")
        args, words = edit("-o", "out"), ["out", "is a file"]
    before = written(place)
    one_error_line(run(vsp_bin, *args, cwd=place), *words, code=1)
    assert written(place) == before


def test_a_run_that_fails_leaves_no_folder_behind(vsp_bin, place, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for item in exported("tiny").iterdir():
        (broken / item.name).symlink_to(item)
    (broken / "unet.pt").unlink()
    (broken / "unet.pt").write_bytes(b"not a model")
    result = run(vsp_bin, "transfer", "--model", broken, "--content", "cat.png", "--style", "ink.png", *SIZE,
                 "-o", "deep/out", cwd=place)
    assert result.returncode == 1
    assert not (place / "deep").exists()


@pytest.mark.parametrize("command", ["edit", "transfer", "style", "batch"])
def test_two_runs_on_one_output_folder_at_once(vsp_bin, place, command):
    """The second run fails at once and names the folder; the first finishes untouched."""
    args = {"edit": edit("--steps", 12, "-o", "out"),
            "transfer": transfer("--steps", 12, "-o", "out"),
            "style": ["--style", "fire", "--model", exported("tiny"), "--steps", 12, "-q", "-o", "out"],
            "batch": ["batch", batch_file(place, {"mode": "generate", "prompt": "a cat", "steps": 12}),
                      "--model", exported("tiny"), "-q", "--out", "out"]}[command]
    first = subprocess.Popen([str(vsp_bin), *map(str, args)], cwd=place, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while not (place / "out").exists() and first.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, "the first run ended before the second started; make it longer"
        one_error_line(run(vsp_bin, *args, cwd=place), "another vsp run is writing to", "out", code=1)
    finally:
        _, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr.decode()
    if command == "batch":
        summary = [json.loads(line) for line in (place / "out" / "summary.jsonl").read_text().splitlines()]
        assert [line["status"] for line in summary] == ["done"]


def test_shards_of_one_batch_share_the_folder(vsp_bin, place):
    jobs = batch_file(place, {"mode": "generate", "name": "a", "prompt": "a cat"},
                      {"mode": "generate", "name": "b", "prompt": "a dog"}, steps=2, width=64, height=64)
    runs = [subprocess.Popen([str(vsp_bin), "batch", str(jobs), "--model", str(exported("tiny")), "-q", "--out", "out",
                              "--shard", f"{index}/2"], cwd=place, stderr=subprocess.PIPE) for index in (0, 1)]
    for process in runs:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr.decode()
    assert (place / "out" / "a_s0.png").exists() and (place / "out" / "b_s0.png").exists()


# Runs never mix their outputs (README, "Output files"): each command, run twice on one --out.
def style(*extra):
    return ["--style", "fire", "--model", exported("tiny"), "-p", "a cat", *SIZE, *extra]


def owned_runs(place):
    return {"style": lambda *extra: style("-o", "out", *extra),
            "transfer": lambda *extra: transfer("-o", "out", *extra),
            "edit": lambda *extra: edit("--steps", 1, "-o", "out", *extra),
            "batch": lambda *extra: ["batch", batch_file(place, {"mode": "generate", "name": "a", "prompt": "a cat"},
                                                         steps=1, width=64, height=64),
                                     "--model", exported("tiny"), "-q", "--out", "out", *extra]}


@pytest.mark.parametrize("command", ["style", "transfer", "edit", "batch"])
def test_a_second_run_refuses_the_first_runs_folder_unless_overwrite(vsp_bin, place, command):
    args = owned_runs(place)[command]
    assert run(vsp_bin, *args(), cwd=place).returncode == 0
    first = written(place / "out")
    one_error_line(run(vsp_bin, *args(), cwd=place), "out holds the outputs of an earlier run", "--overwrite", code=1)
    assert written(place / "out") == first
    result = run(vsp_bin, *args("--overwrite"), cwd=place)
    assert result.returncode == 0, result.stderr.decode()
    assert written(place / "out") == first  # the same job: the same files, written again


def test_overwrite_leaves_only_the_new_runs_outputs(vsp_bin, place):
    """--style fire with a cat at seed 5, then with a cat, a dog and a fox: the folder holds the
    second run's alone. A prompt renders one target (not the style's ten), three prompts three."""
    assert run(vsp_bin, *style("-o", "out", "--seeds", 5), cwd=place).returncode == 0
    outputs = sorted(path.name for path in written(place / "out"))
    assert outputs == [".vsp-run.json", "00_a-cat_s5.png", "grid.png", "reference.png"], outputs
    assert run(vsp_bin, *style("-o", "out", "-p", "a dog", "-p", "a fox", "--overwrite"), cwd=place).returncode == 0
    outputs = sorted(path.name for path in written(place / "out"))
    assert outputs == [".vsp-run.json", "00_a-cat_s0.png", "01_a-dog_s1.png", "02_a-fox_s2.png", "grid.png",
                       "reference.png"], outputs


def test_a_folder_with_the_users_own_files_is_refused_even_with_overwrite(vsp_bin, place):
    (place / "out").mkdir()
    (place / "out" / "notes.txt").write_text("mine")
    for extra in ((), ("--overwrite",)):
        one_error_line(run(vsp_bin, *style("-o", "out", *extra), cwd=place), "files vsp did not write",
                       "notes.txt", code=1)
    assert written(place / "out") == [Path("notes.txt")]


def test_generate_refuses_an_existing_file_unless_overwrite(vsp_bin, place):
    assert run(vsp_bin, *generate("-o", "a.png"), cwd=place).returncode == 0
    before = (place / "a.png").read_bytes()
    one_error_line(run(vsp_bin, *generate("-o", "a.png", "-s", 7), cwd=place), "a.png exists", "--overwrite", code=1)
    assert (place / "a.png").read_bytes() == before
    assert run(vsp_bin, *generate("-o", "a.png", "-s", 7, "--overwrite"), cwd=place).returncode == 0
    assert (place / "a.png").read_bytes() != before


def test_batch_resume_keeps_the_batchs_outputs_and_refuses_another_runs(vsp_bin, place):
    args = owned_runs(place)["batch"]
    assert run(vsp_bin, *args(), cwd=place).returncode == 0
    assert run(vsp_bin, *args("--resume"), cwd=place).returncode == 0
    one_error_line(run(vsp_bin, *args("--resume", "--overwrite"), cwd=place), "--resume", "--overwrite", code=2)
    # Another batch's outputs in the folder: --resume does not adopt them.
    other = batch_file(place, {"mode": "generate", "name": "b", "prompt": "a dog"}, steps=1, width=64, height=64)
    one_error_line(run(vsp_bin, "batch", other, "--model", exported("tiny"), "-q", "--out", "out", "--resume",
                       cwd=place), "outputs of an earlier run", "a_s0.png", code=1)
