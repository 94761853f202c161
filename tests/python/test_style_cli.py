"""`vsp --style` / `--style-image` / `vsp styles` end to end on the tiny export: chunking, the swap,
reference stability, metadata, the shipped style configs and bad input."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import assert_within_chunking_bound
from vsp_reference import read_png

ROOT = Path(__file__).resolve().parents[2]
STYLE_FILES = sorted((ROOT / "configs" / "styles").glob("*.json"))


def style_args(model, out, *extra, style="flames", steps=3):
    return ["--style", style, "--model", model, "--steps", steps, "--out", out, "-q", *extra]


def image_args(model, out, image, *extra, steps=3):
    return ["--style-image", image, "--object", "a cat", "--model", model, "--steps", steps, "--out", out, "-q", *extra]


def write_style_image(path):
    y, x = np.mgrid[0:64, 0:64]
    Image.fromarray(np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)).save(path)
    return path


def run_args(kind, model, tmp_path, out, *extra):
    if kind == "generated":
        return style_args(model, out, *extra)
    return image_args(model, out, write_style_image(tmp_path / "The starry night.png"), *extra)


def targets(out):
    return sorted(out.glob("[0-9][0-9]_*.png"))


@pytest.mark.chunking
@pytest.mark.parametrize("kind", ["generated", "real-image"])
def test_batch_size_changes_files_at_most_within_the_bound(run_vsp, tiny_model, tmp_path, kind):
    """Bounded: --batch-size 1 against 4 without --deterministic."""
    for batch in (1, 4):
        run_vsp(*run_args(kind, tiny_model, tmp_path, tmp_path / f"b{batch}", "--num", 4, "--batch-size", batch))
    one, four = sorted((tmp_path / "b1").glob("*.png")), sorted((tmp_path / "b4").glob("*.png"))
    assert [p.name for p in one] == [p.name for p in four]
    assert len(targets(tmp_path / "b1")) == 4 and (tmp_path / "b1" / "reference.png").exists()
    for a, b in zip(one, four):
        with Image.open(a) as image_a, Image.open(b) as image_b:
            assert_within_chunking_bound(image_a, image_b, f"{a.name}, --batch-size 1 against 4")
            meta_a, meta_b = json.loads(image_a.text["vsp"]), json.loads(image_b.text["vsp"])
        # The metadata differs only where the job itself does: the batch size it was given.
        assert meta_a["job"].pop("batch_size") == 1 and meta_b["job"].pop("batch_size") == 4
        assert meta_a == meta_b


@pytest.mark.chunking
@pytest.mark.parametrize("kind", ["generated", "real-image"])
def test_deterministic_targets_do_not_depend_on_the_other_targets(run_vsp, tiny_model, tmp_path, kind):
    """Byte-identity: under --deterministic a target is the same file whether it runs with three
    others or alone, and the same as --batch-size 1 (the computation --deterministic fixes)."""
    run_vsp(*run_args(kind, tiny_model, tmp_path, tmp_path / "four", "--num", 4, "--deterministic"))
    run_vsp(*run_args(kind, tiny_model, tmp_path, tmp_path / "one", "--num", 1, "--deterministic"))
    run_vsp(*run_args(kind, tiny_model, tmp_path, tmp_path / "b1", "--num", 4, "--batch-size", 1))
    four, one = targets(tmp_path / "four"), targets(tmp_path / "one")
    assert len(four) == 4 and len(one) == 1 and one[0].name == four[0].name
    assert np.array_equal(read_png(one[0]), read_png(four[0])), f"{one[0].name}: --num 1 and --num 4 differ"
    for name in ["reference.png"] + [p.name for p in four]:
        assert np.array_equal(read_png(tmp_path / "four" / name), read_png(tmp_path / "b1" / name)), name


def test_deterministic_refuses_a_batch_size(run_vsp, tiny_model, tmp_path):
    result = run_vsp(*style_args(tiny_model, tmp_path / "out", "--deterministic", "--batch-size", 2), check=False)
    assert result.returncode == 2 and "--deterministic" in result.stderr and "--batch-size" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["generated", "real-image"])
def test_swap_changes_targets_but_not_the_reference(run_vsp, tiny_model, tmp_path, kind):
    run_vsp(*run_args(kind, tiny_model, tmp_path, tmp_path / "swap", "--num", 2))
    # An index past the last step selects no step: the swap never acts.
    run_vsp(*run_args(kind, tiny_model, tmp_path, tmp_path / "plain", "--num", 2, "--swap-steps", "none"))
    assert np.array_equal(read_png(tmp_path / "swap" / "reference.png"), read_png(tmp_path / "plain" / "reference.png"))
    swapped, plain = targets(tmp_path / "swap"), targets(tmp_path / "plain")
    assert len(swapped) == len(plain) == 2
    for a, b in zip(swapped, plain):
        assert not np.array_equal(read_png(a), read_png(b)), f"{a.name}: the swap did not change the target"


@pytest.mark.chunking
@pytest.mark.parametrize("kind", ["generated", "real-image"])
def test_reference_does_not_depend_on_the_number_of_targets(run_vsp, tiny_model, tmp_path, kind):
    run_vsp(*run_args(kind, tiny_model, tmp_path, tmp_path / "n1", "--num", 1))
    run_vsp(*run_args(kind, tiny_model, tmp_path, tmp_path / "n3", "--num", 3))
    assert len(targets(tmp_path / "n1")) == 1 and len(targets(tmp_path / "n3")) == 3
    one, three = read_png(tmp_path / "n1" / "reference.png"), read_png(tmp_path / "n3" / "reference.png")
    changed = one != three
    assert not changed.any(), (
        f"reference.png changed between --num 1 and --num 3 ({changed.sum()} values, up to "
        f"{np.abs(one - three).max() * 255:.0f}/255): the reference must not depend on the number of targets "
        "(suspect: pipeline::encode_prompts encodes all rows in one batch, so the pooled embedding of row 0 "
        "changes in the last bits with the batch size)")


def test_png_metadata_names_style_layers_seed_and_prompt(run_vsp, tiny_model, tmp_path):
    out = tmp_path / "out"
    run_vsp(*style_args(tiny_model, out, "--object", "a red fox", "--seeds", 42, "--layers",
                        "up_blocks.0.attentions.2,up_blocks.1", "--cfg", 6.5, steps=2))
    style = json.loads((ROOT / "configs" / "styles" / "flames.json").read_text())
    prompt = style["template"].replace("{object}", "a red fox")
    [target] = targets(out)
    assert target.name.startswith("00_a-red-fox") and target.name.endswith("_s42.png")
    text = Image.open(target).text
    job = json.loads(text["vsp"])
    assert job["mode"] == "style" and job["style"] == "flames"
    assert job["layers"] == ["up_blocks.0.attentions.2", "up_blocks.1"]
    assert job["seed"] == 42 and job["prompt"] == prompt and job["index"] == 0
    assert job["reference_seed"] == style["reference_seed"] and job["steps"] == 2 and job["cfg"] == 6.5
    parameters = text["parameters"]
    assert parameters.startswith(prompt + "\n"), parameters
    for fragment in ("Steps: 2", "Sampler: Euler", "CFG scale: 6.5", "Seed: 42", "Size: 64x64", "Model: tiny"):
        assert fragment in parameters, parameters
    reference = json.loads(Image.open(out / "reference.png").text["vsp"])
    assert reference["seed"] == style["reference_seed"]
    assert reference["prompt"] == style["template"].replace("{object}", style["reference_object"])


def test_styles_lists_every_config_with_a_description(run_vsp):
    lines = run_vsp("styles").stdout.splitlines()
    listed = {}
    for line in lines:
        name, _, description = line.partition(" ")
        listed[name] = description.strip()
    assert len(listed) >= 12, lines
    assert sorted(listed) == sorted(f.stem for f in STYLE_FILES), "vsp styles must list every configs/styles/*.json"
    for name, description in listed.items():
        assert description, f"style {name} has no description"
        assert json.loads((ROOT / "configs" / "styles" / f"{name}.json").read_text())["name"] == name


def representative_styles():
    """One style per distinct (layers, sampler, negative) setup, at least three."""
    chosen, seen = [], set()
    for path in STYLE_FILES:
        style = json.loads(path.read_text())
        setup = json.dumps([style.get("layers"), style.get("sampler"), style.get("negative") is None])
        if setup not in seen or len(chosen) < 3:
            seen.add(setup)
            chosen.append(path.stem)
    return chosen


@pytest.mark.parametrize("style", representative_styles())
def test_shipped_style_runs(run_vsp, tiny_model, tmp_path, style):
    out = tmp_path / "out"
    run_vsp(*style_args(tiny_model, out, "--num", 1, style=style, steps=1))
    assert (out / "reference.png").exists() and (out / "grid.png").exists() and len(targets(out)) == 1


def write_bad_style(folder, name, **changes):
    style = json.loads((ROOT / "configs" / "styles" / "flames.json").read_text())
    style.update(name=name, **changes)
    folder.mkdir()
    path = folder / f"{name}.json"
    path.write_text(json.dumps(style))
    return path


def wrong_type(model, tmp_path, out):
    path = write_bad_style(tmp_path / "styles", "typo", steps="ten")
    return ["--style", "typo", "--styles", path.parent, "--model", model, "--out", out, "-q"], \
        [str(path), "'steps'", "an integer"]


def unknown_field(model, tmp_path, out):
    path = write_bad_style(tmp_path / "styles", "extra", stpes=10)
    return ["--style", "extra", "--styles", path.parent, "--model", model, "--out", out, "-q"], \
        [str(path), "unknown field 'stpes'", "did you mean 'steps'"]


def not_an_image(model, tmp_path, out):
    fake = tmp_path / "x.png"
    fake.write_text("this is text, not a picture\n")
    return image_args(model, out, fake), [str(fake), "not a PNG or JPEG"]


BAD_INPUTS = {
    # name: (arguments and the words the one-line message must contain)
    "unknown style": lambda m, t, o: (style_args(m, o, style="fier"), ["unknown style 'fier'", "closest: fire"]),
    "wrong field type": wrong_type,
    "unknown field": unknown_field,
    "missing style image": lambda m, t, o: (image_args(m, o, t / "missing.png"), [str(t / "missing.png")]),
    "style image is not an image": not_an_image,
    "unknown layer": lambda m, t, o: (style_args(m, o, "--layers", "up_blocks.7"), ["'up_blocks.7'", "up_blocks.1"]),
    "unknown template": lambda m, t, o: (style_args(m, o, "--template", "van-goh"), ["'van-goh'", "van-gogh"]),
    "attention pixel outside": lambda m, t, o: (style_args(m, o, "--attention-map", "64,10"),
                                                ["--attention-map 64,10", "outside the 64x64 image"]),
    "attention pixel malformed": lambda m, t, o: (style_args(m, o, "--attention-map", "10;20"), ["X,Y", "10;20"]),
    "attention step past the end": lambda m, t, o: (style_args(m, o, "--attention-map", "1,1", "--attention-step", 3),
                                                    ["--attention-step 3", "past the last step (2)"]),
    "attention step without swap": lambda m, t, o: (
        style_args(m, o, "--attention-map", "1,1", "--attention-step", 2, "--swap-steps", "0-1"), ["does not swap"]),
    "attention layer that does not swap": lambda m, t, o: (
        style_args(m, o, "--attention-map", "1,1", "--attention-layers", "up_blocks.0"), ["does not swap"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line_and_leaves_nothing(run_vsp, tiny_model, tmp_path, case):
    out = tmp_path / "out" / "run"
    args, words = BAD_INPUTS[case](tiny_model, tmp_path, out)
    result = run_vsp(*args, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for word in words:
        assert word in lines[0], f"{word!r} missing from: {lines[0]}"
    assert not (tmp_path / "out").exists(), "a failed run must not create its output folder"
    leftovers = [p for p in tmp_path.rglob("*") if (p.suffix == ".png" and p.name != "x.png") or ".tmp" in p.name]
    assert not leftovers, f"files left behind: {leftovers}"


def test_templates_are_listed_and_usable_with_any_object(run_vsp, tiny_model, tmp_path):
    listed = dict(line.split(None, 1) for line in run_vsp("styles", "--templates").stdout.splitlines())
    templates = json.loads((ROOT / "configs" / "templates.json").read_text())
    assert len(listed) == 28 and sorted(listed) == sorted(templates)
    assert listed["fire"].strip() == "{object} photography, realistic, black background'"
    run_vsp(*style_args(tiny_model, tmp_path / "out", "--template", "munch", "--object", "a lighthouse", "--num", 1,
                        steps=2))
    target = json.loads(Image.open(targets(tmp_path / "out")[0]).text["vsp"])
    assert target["prompt"] == "a lighthouse in Edvard Munch style" and target["negative"] == ""


@pytest.mark.chunking
def test_attention_maps_sum_to_one_and_leave_the_images_unchanged(run_vsp, tiny_model, tmp_path):
    run_vsp(*style_args(tiny_model, tmp_path / "plain", "--num", 3, "--batch-size", 3))
    maps = ["--attention-map", "10,20", "--attention-map", "63,63", "--attention-step", 1]
    for batch in (1, 3):
        run_vsp(*style_args(tiny_model, tmp_path / f"maps{batch}", "--num", 3, "--batch-size", batch, *maps))
    for image in sorted((tmp_path / "plain").glob("*.png")):
        assert (tmp_path / "maps3" / image.name).read_bytes() == image.read_bytes(), image.name
    files = sorted(p.name for p in (tmp_path / "maps3" / "attention").iterdir())
    assert files == sorted(f"{t:02d}_{p}.{ext}" for t in range(3) for p in ("x10_y20", "x63_y63") for ext in ("npy", "png"))
    for name in files:
        if name.endswith(".npy"):
            raw = np.load(tmp_path / "maps3" / "attention" / name)
            assert raw.ndim == 2 and abs(raw.sum() - 1) < 1e-5, (name, raw.sum())
            assert np.allclose(raw, np.load(tmp_path / "maps1" / "attention" / name), atol=1e-6)  # bounded: chunking
    overlay = Image.open(tmp_path / "maps3" / "attention" / "01_x63_y63.png")
    assert overlay.size == (64, 64)
    assert json.loads(overlay.text["vsp"])["attention_map"] == {"target": 1, "x": 63, "y": 63, "step": 1}
