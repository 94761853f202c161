"""Usage errors of every command, the new ones (edit, transfer, ControlNet, attention maps) above
all: exit 2 for a command line that is wrong, 1 for what fails at run time or in an input file;
flags named as the user typed them (or the jobs field as written); no flag swallowed as a value;
options that refine a missing one refused; no library text in any message."""
import os
import re

import numpy as np
import pytest
from PIL import Image

from conftest import exported
from test_bad_input import batch_file, one_error_line, run, written
from test_output_rules import edit, generate, picture, place, transfer  # noqa: F401 (place is a fixture)

STYLE = ["--style", "fire", "--model", exported("tiny"), "-W", 64, "-H", 64, "--steps", 2, "-q"]

# Every case: (command line, exit code, words of the one error line). Usage errors exit 2; a file
# that is missing or unreadable, a model that cannot be read, exit 1.
EXIT_CODES = {
    "edit unknown flag": (edit("--frobnicate"), 2, ["unknown flag --frobnicate", "vsp edit --help"]),
    "generate mistyped flag": (generate("--stpes", "3"), 2, ["unknown flag --stpes", "did you mean --steps"]),
    "style mistyped flag": ([*STYLE, "--objetc", "a fox"], 2, ["unknown flag --objetc", "did you mean --object"]),
    "edit bad mode": (edit("--mode", "sideways"), 2, ["--mode", "sideways"]),
    "edit reweight inf": (edit("--reweight", "dog=inf"), 2, ["--reweight"]),
    "edit reweight no weight": (edit("--reweight", "dog"), 2, ["--reweight"]),
    "edit cross-replace 2": (edit("--cross-replace", "2"), 2, ["--cross-replace"]),
    "edit cross-replace word": (edit("--cross-replace", "cow=0.5"), 2, ["--cross-replace", "cow"]),
    "edit attention-res alone": (edit("--attention-res", "4"), 2, ["--attention-res", "--save-attention"]),
    "edit inversion without image": (edit("--inversion", "ddim"), 2, ["--inversion", "--image"]),
    "edit null-text without image": (edit("--save-null-text", "nt.npy"), 2, ["--save-null-text", "--image"]),
    "edit image missing": (edit("--image", "missing.png"), 1, ["missing.png"]),
    "edit size": (edit("-W", "100"), 2, ["100"]),
    "edit swallowed --to": (["edit", "--model", exported("tiny"), "-p", "a cat", "--to", "-o", "out/r"], 2,
                            ["--to", "-o"]),
    "edit absolute output": (edit("--save-latents", "/tmp/x.npy"), 2, ["--save-latents", "absolute"]),
    "transfer tau 0": (transfer("--tau", "0"), 2, ["--tau"]),
    "transfer tau -1": (transfer("--tau", "-1"), 2, ["--tau"]),
    "transfer gamma 2": (transfer("--gamma", "2"), 2, ["--gamma"]),
    "transfer start-step": (transfer("--start-step", "5"), 2, ["--start-step", "--steps"]),
    "transfer content missing": (transfer("--content", "missing.png"), 1, ["missing.png"]),
    "transfer swallowed --style": (["transfer", "--model", exported("tiny"), "--content", "cat.png", "--style",
                                    "--steps", "2"], 2, ["--style", "--steps"]),
    "generate control-scale alone": (generate("--control-scale", "0.5", "-o", "a.png"), 2,
                                     ["--control-scale needs --control"]),
    "generate control-start after end": (generate("--control", "canny", "--control-image", "cat.png",
                                                  "--control-start", "0.8", "--control-end", "0.2", "-o", "a.png"), 2,
                                         ["--control-start", "--control-end"]),
    "generate control image missing": (generate("--control", "canny", "--control-image", "missing.png",
                                                "-o", "a.png"), 1, ["missing.png"]),
    "generate steps 0": (generate("--steps", "0"), 2, ["--steps"]),
    "generate swallowed --prompt": (["generate", "--model", exported("tiny"), "--prompt", "--steps", "2"], 2,
                                    ["--prompt", "--steps"]),
    "style attention-step alone": ([*STYLE, "--attention-step", "1"], 2, ["--attention-step needs --attention-map"]),
    "style attention-layers alone": ([*STYLE, "--attention-layers", "up_blocks.1"], 2,
                                     ["--attention-layers needs --attention-map"]),
    "style no-shared-adain alone": ([*STYLE, "--no-shared-adain"], 2, ["--no-shared-adain needs --shared-attention"]),
    "style attention-map bad pixel": ([*STYLE, "--attention-map", "1;2"], 2, ["--attention-map"]),
    "style unknown style": (["--style", "nope", "--model", exported("tiny")], 1, ["nope"]),
    "model missing": (edit("--model", "nowhere"), 1, ["nowhere"]),
    "generate prompt weight not a number": (generate("-p", "a (cat:1.2.3)"), 2, ["1.2.3", "is not a number"]),
    "generate negative weight not a number": (generate("-n", "(blurry:.)"), 2, ['"."', "is not a number"]),
    "style prompt weight not a number": ([*STYLE, "-p", "a (fox:1..2)"], 2, ["1..2", "is not a number"]),
    "edit prompt syntax": (edit("--to", "a (dog:1.3)"), 2, ["plain text", "--reweight", "--no-prompt-weights"]),
    "edit prompt syntax no-weights value": (edit("--no-prompt-weights=maybe"), 2, ["--no-prompt-weights"]),
    "generate timestep spacing": (generate("--timestep-spacing", "even"), 2, ["--timestep-spacing", "trailing"]),
    "generate sampler unknown": (generate("--sampler", "DPM++ 2M SDE"), 2, ["--sampler", "euler-a"]),
    "batch jobs file missing": (["batch", "missing.json"], 1, ["missing.json"]),
}


@pytest.mark.parametrize("case", sorted(EXIT_CODES))
def test_exit_codes(vsp_bin, place, case):
    args, code, words = EXIT_CODES[case]
    before = written(place)
    line = one_error_line(run(vsp_bin, *args, cwd=place), *words, code=code)
    assert "filesystem error" not in line and "--edit-mode" not in line
    assert not re.search(r"--[a-z-]+_", line), line  # a flag is never spelled as its field
    assert written(place) == before


def test_jobs_files_name_fields_as_written(vsp_bin, place):
    """The planners word their errors in flags; a jobs file's reader sees its own fields."""
    cases = [({"mode": "edit", "prompt": "a cat", "to": "a dog", "save_null_text": "nt.npy"},
              ['"save_null_text" needs "image"']),
             ({"mode": "edit", "prompt": "a cat", "edit_mode": "replace", "to": "a dog", "reweight": "dog=inf"},
              ['"reweight"']),
             ({"mode": "style", "style": "fire", "attention_step": 1}, ['"attention_step" needs "attention_map"']),
             ({"mode": "style", "style": "fire", "shared_adain": False},
              ['"shared_adain": false needs "shared_attention"']),
             ({"mode": "generate", "prompt": "a", "control_scale": 0.5}, ['"control_scale" needs "control"']),
             ({"mode": "transfer", "content": "cat.png", "style": "ink.png", "tau": 0}, ['"tau"'])]
    for job, words in cases:
        jobs = batch_file(place, {**job, "name": "j"}, steps=2, width=64, height=64)
        line = one_error_line(run(vsp_bin, "batch", jobs, "--model", exported("tiny"), "--out", "out", cwd=place),
                              "jobs[0]", *words, code=1)
        assert "--" not in line.replace("--out", ""), line


def test_symlink_loops_are_one_clean_line(vsp_bin, place):
    os.symlink("loop", place / "loop")
    for args in (transfer("--content", "loop", "-o", "out"), generate("--control", "canny", "--control-image", "loop"),
                 edit("--model", "loop"), edit("--image", "loop")):
        line = one_error_line(run(vsp_bin, *args, cwd=place), "loop", code=1)
        assert "filesystem error" not in line and "status:" not in line
    assert not (place / "out").exists()


def test_broken_links_and_other_files_in_a_picture_folder_are_skipped_and_counted(vsp_bin, place):
    contents = place / "contents"
    contents.mkdir()
    picture(contents / "a.png")
    os.symlink("gone.png", contents / "zz.png")  # sorts after a.png: the listing order once mattered
    os.symlink("gone.png", contents / "0.png")
    (contents / "notes.txt").write_text("not a picture")
    result = run(vsp_bin, *transfer("--content", "contents", "-o", "out"), cwd=place)
    assert result.returncode == 0, result.stderr
    assert "skipped 3 entries" in result.stderr.decode()
    assert sorted(p.name for p in (place / "out").iterdir() if not p.name.startswith(".")) == ["a_stylized_ink.png"]


def test_words_the_tokenizer_splits_are_refused_with_the_true_reason(vsp_bin, place):
    """"a 猫": the character is three byte tokens, so prompt-to-prompt's word lookup (get_word_inds)
    runs past the last word, as the reference code does (it raises IndexError there)."""
    line = one_error_line(run(vsp_bin, "edit", "--model", exported("tiny"), "-p", "a 猫", "--to", "a dog",
                              "--steps", 2, "-W", 64, "-H", 64, "-o", "out", cwd=place), "--mode refine", code=2)
    assert "single spaces" not in line


def test_words_the_tokenizer_splits_still_edit_where_the_lookup_works(vsp_bin, place):
    """Where the reference's word lookup places every word, so does vsp: a replace in the middle of
    the prompt, and a refine, which aligns tokens."""
    for out, args in (("replace", ["-p", "a 猫 sits", "--to", "a 犬 sits"]),
                      ("refine", ["-p", "a 猫", "--to", "a big 猫", "--mode", "refine"])):
        result = run(vsp_bin, "edit", "--model", exported("tiny"), *args, "--steps", 2, "-W", 64, "-H", 64,
                     "-o", out, "-q", cwd=place)
        assert result.returncode == 0, result.stderr
        assert np.asarray(Image.open(place / out / "edit_1.png")).shape == (64, 64, 3)
