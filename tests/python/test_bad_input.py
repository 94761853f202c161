"""Every input vsp can be given, run through the real binary: one `error:` line naming the problem
and the fix, a non-zero exit, nothing written, and never a crash, a hang or an allocation out of
proportion to the input (memory cases run under a limit)."""
import json
import os
import resource
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree

import pytest
from PIL import Image

from conftest import ROOT

STYLES = ROOT / "configs" / "styles"
# Enough for the tiny model and LibTorch; far below what the old memory bombs reached (2-13 GB).
MEMORY_LIMIT = 3 << 30


def limited_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(vsp_bin, *args, cwd=None, env=None, limit_memory=False, timeout=120):
    return subprocess.run([os.fsencode(str(vsp_bin)), *[a if isinstance(a, bytes) else str(a).encode() for a in args]],
                          capture_output=True, cwd=cwd, env=env, stdin=subprocess.DEVNULL, timeout=timeout,
                          preexec_fn=limited_memory if limit_memory else None)


def one_error_line(result, *words, code=None):
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode > 0, f"exit {result.returncode}: {stderr}"  # negative: killed by a signal
    if code is not None:
        assert result.returncode == code, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for word in words:
        assert word in lines[0], lines[0]
    for leak in ("json.exception", "stoi", "TorchScript interpreter", "terminate called", "Traceback"):
        assert leak not in lines[0], lines[0]
    return lines[0]


def written(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def generate(tiny_model, *extra):
    return ["generate", "--model", tiny_model, "--prompt", "a fox", "--steps", 2, "-q", *extra]


def copy_model(tiny_model, tmp_path, **changes):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest.update(changes)
    (model / "manifest.json").write_text(json.dumps(manifest))
    return model


def metadata(path):
    return json.loads(Image.open(path).text["vsp"])


# 1. Output paths

def test_bare_file_names_work(vsp_bin, tiny_model, tmp_path):
    result = run(vsp_bin, *generate(tiny_model, "--out", "x.png", "--save-latents", "x.npy"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run(vsp_bin, *generate(tiny_model), cwd=tmp_path)  # the default out.png
    assert result.returncode == 0, result.stderr
    assert written(tmp_path) == [p for p in map(type(tmp_path), ["out.png", "x.npy", "x.png"])]


def test_upper_case_png_extension_is_a_png(vsp_bin, tiny_model, tmp_path):
    assert run(vsp_bin, *generate(tiny_model, "--out", tmp_path / "X.PNG")).returncode == 0
    assert Image.open(tmp_path / "X.PNG").format == "PNG"


def test_latents_must_be_an_npy_file(vsp_bin, tiny_model, tmp_path):
    one_error_line(run(vsp_bin, *generate(tiny_model, "--out", tmp_path / "a.png", "--save-latents", "a.png")),
                   "--save-latents", ".npy", code=2)
    assert written(tmp_path) == []


def test_style_name_cannot_escape_the_output_folder(vsp_bin, tiny_model, tmp_path):
    styles = tmp_path / "styles"
    styles.mkdir()
    style = json.loads((STYLES / "flames.json").read_text())
    style["name"] = "../../escape"
    (styles / "flames.json").write_text(json.dumps(style))
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    one_error_line(run(vsp_bin, "--style", "flames", "--styles", styles, "--model", tiny_model, "--steps", 2, cwd=work),
                   "'name'")
    assert not (tmp_path / "escape").exists() and written(work) == []
    one_error_line(run(vsp_bin, "--style", "../fire", "--model", tiny_model, cwd=work), "not a style name")


def test_proc_output_does_not_advise_creating_the_folder(vsp_bin, tiny_model):
    line = one_error_line(run(vsp_bin, *generate(tiny_model, "--out", "/proc/x.png")), "/proc")
    assert "create the folder" not in line


def test_write_probes_are_not_left_behind(vsp_bin, tiny_model, tmp_path):
    assert run(vsp_bin, *generate(tiny_model, "--num", 3, "--out", tmp_path / "many.png")).returncode == 0
    assert written(tmp_path) == [type(tmp_path)(f"many-{i}.png") for i in range(3)]


def test_stale_probes_and_temporaries_of_dead_writers_are_removed(vsp_bin, tiny_model, tmp_path):
    host = os.uname().nodename.replace(".", "_")
    out = tmp_path / "out"
    out.mkdir()
    dead = 2 ** 22 + 12345  # above the default pid_max: no such process
    stale = [f".a.png.probe-{host}-{dead}-0", f".a.png.tmp-{host}-{dead}-1"]
    foreign = f".a.png.tmp-otherhost-{os.getpid()}-0"  # another host's: its pid cannot be checked here
    for name in stale + [foreign]:
        (out / name).write_bytes(b"")
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps({"jobs": [{"mode": "generate", "prompt": "a", "steps": 1}]}))
    assert run(vsp_bin, "batch", jobs, "--model", tiny_model, "--out", out, "-q").returncode == 0
    assert not any((out / name).exists() for name in stale)
    assert (out / foreign).exists()


# 2. Crashes

@pytest.mark.parametrize("field,value", [("size_multiple", 0), ("vae_scale_factor", 0), ("latent_channels", -1),
                                         ("default_size", 10 ** 12), ("scaling_factor", "big"),
                                         ("size_multiple", 1.5)])
def test_manifest_numbers_are_range_checked_at_load(vsp_bin, tiny_model, tmp_path, field, value):
    model = copy_model(tiny_model, tmp_path, **{field: value})
    one_error_line(run(vsp_bin, *generate(model, "--out", tmp_path / "o.png")), "manifest.json", f"'{field}'",
                   "re-export")
    assert not list(tmp_path.glob("*.png"))


def test_huge_width_is_refused_not_overflowed(vsp_bin, tiny_model, tmp_path):
    for width in (2147483647, 2147483616, 9000 // 32 * 32):
        one_error_line(run(vsp_bin, *generate(tiny_model, "-W", width, "--out", tmp_path / "o.png")), "size")


# 3. Memory bombs (run under a memory limit: they must fail fast, not allocate)

def test_huge_num_is_refused_up_front(vsp_bin, tiny_model, tmp_path):
    one_error_line(run(vsp_bin, *generate(tiny_model, "--num", 1000000, "--out", tmp_path / "o.png"), limit_memory=True,
                       timeout=30), "--num")
    one_error_line(run(vsp_bin, "--style", "flames", "--model", tiny_model, "--num", 1000000, "--out", tmp_path / "s",
                       limit_memory=True, timeout=30), "--num")
    assert written(tmp_path) == []


def test_more_images_than_memory_holds_is_refused(vsp_bin, tiny_model, tmp_path):
    line = one_error_line(run(vsp_bin, *generate(tiny_model, "--num", 1000, "-W", 8192, "-H", 8192, "--out",
                                                 tmp_path / "o.png"), limit_memory=True, timeout=30), "GB")
    assert "lower --num" in line


def test_huge_style_image_is_refused_before_decoding(vsp_bin, tiny_model, tmp_path):
    big = tmp_path / "big.png"
    Image.new("RGB", (20000, 20000)).save(big, optimize=False, compress_level=9)
    one_error_line(run(vsp_bin, "--style-image", big, "--model", tiny_model, "--out", tmp_path / "s",
                       limit_memory=True, timeout=60), "big.png", "20000x20000", "downscale")
    assert not (tmp_path / "s").exists()


# 4. Validation before compute

@pytest.mark.parametrize("flag", ["--prompt", "--negative"])
def test_prompt_that_is_not_utf8_is_refused_up_front(vsp_bin, tiny_model, tmp_path, flag):
    args = ["generate", "--model", tiny_model, "--steps", 2, "-q", "--out", tmp_path / "o.png"]
    one_error_line(run(vsp_bin, *args, flag, b"caf\xe9"), flag, "UTF-8")
    assert written(tmp_path) == []


def test_object_and_file_name_that_are_not_utf8_are_refused_up_front(vsp_bin, tiny_model, tmp_path):
    one_error_line(run(vsp_bin, "--style", "flames", "--model", tiny_model, "--object", b"\xff\xfe", "--out",
                       tmp_path / "s"), "--object", "UTF-8")
    image = tmp_path / "in"
    image.mkdir()
    path = os.path.join(os.fsencode(str(image)), b"caf\xe9.png")
    Image.new("RGB", (64, 64), "red").save(path.decode("utf-8", "surrogateescape"))
    one_error_line(run(vsp_bin, "--style-image", path, "--model", tiny_model, "--out", tmp_path / "s"), "UTF-8")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "0x10", "-1", "101"])
def test_cfg_must_be_a_finite_number_in_range(vsp_bin, tiny_model, tmp_path, value):
    one_error_line(run(vsp_bin, *generate(tiny_model, "--cfg", value, "--out", tmp_path / "o.png")), "--cfg", code=2)
    assert written(tmp_path) == []


def batch_file(tmp_path, *jobs, **defaults):
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps({"defaults": defaults, "jobs": list(jobs)}))
    return path


def test_batch_check_thresholds_are_checked_before_rendering(vsp_bin, tiny_model, tmp_path):
    jobs = batch_file(tmp_path, {"mode": "generate", "prompt": "a", "steps": 2})
    golden = tmp_path / "golden"
    golden.mkdir()
    for flag, value in (("--max-diff", 999), ("--max-diff", -1), ("--min-psnr", "nan"), ("--min-psnr", "inf")):
        one_error_line(run(vsp_bin, "batch", jobs, "--model", tiny_model, "--out", tmp_path / "out", "--check", golden,
                           flag, value), flag, code=2)
    one_error_line(run(vsp_bin, "batch", jobs, "--model", tiny_model, "--out", tmp_path / "out", "--check",
                       tmp_path / "nope"), "golden folder")
    one_error_line(run(vsp_bin, "check", "--golden", golden, "--actual", golden, "--min-psnr", "nan"), "--min-psnr",
                   code=2)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("job,words", [
    ({"mode": "generate", "steps": 1001}, ["1001 steps", "1000"]),
    ({"mode": "generate", "name": "n" * 300}, ['"name"', "200"]),
    ({"mode": "style", "style": "fire", "steps": 4, "warmup_steps": 9}, ['"warmup_steps" 9']),
    ({"mode": "generate", "seed": 2 ** 32}, ['"seed"', "4294967295"]),
    ({"mode": "generate", "cfg": 1e300}, ['"cfg"']),
])
def test_jobs_that_cannot_run_are_refused_up_front(vsp_bin, tiny_model, tmp_path, job, words):
    one_error_line(run(vsp_bin, "batch", batch_file(tmp_path, job), "--model", tiny_model, "--out", tmp_path / "out"),
                   *words)
    assert not (tmp_path / "out").exists()


# 5. Numbers read exactly

def test_integers_are_decimal(vsp_bin, tiny_model, tmp_path):
    out = tmp_path / "o.png"
    assert run(vsp_bin, *generate(tiny_model, "--seed", "00042", "--steps", "002", "--out", out)).returncode == 0
    assert metadata(out)["seed"] == 42 and metadata(out)["steps"] == 2
    for flag, value in (("--steps", "0x10"), ("--seed", "4294967296"), ("--seed", "18446744073709551616"),
                        ("--seed", "-2"), ("--steps", "1e3"), ("--steps", "2.5"), ("--num", "")):
        one_error_line(run(vsp_bin, *generate(tiny_model, flag, value, "--out", out)), flag, code=2)


def test_largest_seed_is_accepted(vsp_bin, tiny_model, tmp_path):
    out = tmp_path / "o.png"
    assert run(vsp_bin, *generate(tiny_model, "--seed", 4294967295, "--out", out)).returncode == 0
    assert metadata(out)["seed"] == 4294967295


def write_style(tmp_path, **changes):
    styles = tmp_path / "styles"
    styles.mkdir(exist_ok=True)
    style = json.loads((STYLES / "flames.json").read_text())
    style.update(changes)
    (styles / "mine.json").write_text(json.dumps(style) if "raw" not in changes else changes["raw"])
    return styles


@pytest.mark.parametrize("changes,words", [
    ({"seeds": [-1, 2, 3, 4]}, ["'seeds'"]),
    ({"seeds": [1.5, 2, 3, 4]}, ["'seeds'"]),
    ({"steps": 4294967297}, ["'steps'"]),
    ({"steps": 2.7}, ["'steps'"]),
    ({"reference_seed": 18446744073709551616}, ["'reference_seed'"]),
    ({"cfg": "high"}, ["'cfg'"]),
    ({"layers": []}, ["'layers'"]),
    ({"warmup": {"cfg": 20, "steps": 60}}, ["warmup.steps"]),
])
def test_style_file_numbers_are_read_exactly(vsp_bin, tiny_model, tmp_path, changes, words):
    styles = write_style(tmp_path, **changes)
    one_error_line(run(vsp_bin, "--style", "mine", "--styles", styles, "--model", tiny_model, "--out", tmp_path / "o"),
                   "mine.json", *words)


@pytest.mark.parametrize("flags,words", [
    (["--layers", "self[5:2]"], ["self[5:2]", "no layers"]),
    (["--swap-steps", "0.5-0.2"], ["0.5-0.2"]),
    (["--swap-steps", "3-1"], ["3-1", "backwards"]),
    (["--swap-steps", "0-99999999999"], ["99999999999", "last step"]),
    (["--swap-steps", "7"], ["step 7", "last step"]),
    (["--swap-steps", "0.9-1.0"], ["select no step"]),
    (["--layers", "up_blocks.9"], ["up_blocks.9"]),
])
def test_selections_that_select_nothing_are_errors(vsp_bin, tiny_model, tmp_path, flags, words):
    one_error_line(run(vsp_bin, "--style", "flames", "--model", tiny_model, "--steps", 4, *flags, "--out", tmp_path / "o"),
                   *words)
    assert not (tmp_path / "o").exists()


def test_exact_layer_names_and_wide_slices_are_valid(vsp_bin, tiny_model, tmp_path):
    layers = json.loads((tiny_model / "manifest.json").read_text())["attention_layers"]
    name = [layer["name"] for layer in layers if layer["kind"] == "self"][-1]
    for index, selection in enumerate((name, "self[-99999999999:]")):
        result = run(vsp_bin, "--style", "flames", "--model", tiny_model, "--steps", 2, "--num", 1, "--layers", selection,
                     "-q", "--out", tmp_path / f"o{index}")
        assert result.returncode == 0, result.stderr


# 6. Messages

def test_cli_usage_errors_are_one_line_with_exit_2(vsp_bin):
    one_error_line(run(vsp_bin, "generat", "--prompt", "x"), "unknown command 'generat'", "did you mean 'generate'",
                   code=2)
    one_error_line(run(vsp_bin, "generate", "--no-such-flag"), "--no-such-flag", code=2)
    one_error_line(run(vsp_bin, "batch"), "jobs", code=2)
    one_error_line(run(vsp_bin, "generate", "--threads", "many"), "--threads", code=2)


def test_number_out_of_range_in_a_jobs_file_is_one_line(vsp_bin, tiny_model, tmp_path):
    jobs = tmp_path / "jobs.json"
    jobs.write_text('{"jobs": [{"mode": "generate", "cfg": 1e400}]}')
    one_error_line(run(vsp_bin, "batch", jobs, "--model", tiny_model, "--out", tmp_path / "out"), "jobs.json")


def test_manifest_type_errors_are_one_line(vsp_bin, tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path, text_encoders="none", format="vsp-model")
    one_error_line(run(vsp_bin, *generate(model, "--out", tmp_path / "o.png")), "'text_encoders'")
    model2 = copy_model(tiny_model, tmp_path / "2", format=7)
    one_error_line(run(vsp_bin, *generate(model2, "--out", tmp_path / "o.png")), "not a vsp model manifest")


def test_module_swapped_for_another_is_caught_at_load(vsp_bin, tiny_model, tmp_path):
    model = copy_model(tiny_model, tmp_path)
    shutil.copy(model / "vae_decoder.pt", model / "unet.pt")
    one_error_line(run(vsp_bin, *generate(model, "--out", tmp_path / "o.png")), "unet.pt", "re-export")
    assert not (tmp_path / "o.png").exists()


def test_manifest_that_disagrees_with_the_encoders_is_named(vsp_bin, tiny_model, tmp_path):
    manifest = json.loads((tiny_model / "manifest.json").read_text())
    # Self-consistent (the UNet's width follows), but not what text_encoder.pt gives.
    manifest["text_encoders"][0]["hidden_size"] += 8
    manifest["unet"]["cross_attention_dim"] += 8
    model = copy_model(tiny_model, tmp_path, text_encoders=manifest["text_encoders"], unet=manifest["unet"])
    one_error_line(run(vsp_bin, *generate(model, "--out", tmp_path / "o.png")), "manifest.json says", "re-export")


def test_wrong_style_folder_says_the_folder_is_missing(vsp_bin, tiny_model, tmp_path):
    one_error_line(run(vsp_bin, "--style", "flames", "--styles", tmp_path / "nope", "--model", tiny_model),
                   "does not exist")
    env = dict(os.environ, VSP_STYLES=str(tmp_path / "nope"))
    one_error_line(run(vsp_bin, "--style", "flames", "--model", tiny_model, env=env), "does not exist", "VSP_STYLES")
    one_error_line(run(vsp_bin, "styles", env=env), "does not exist")


def test_one_malformed_style_does_not_hide_the_others(vsp_bin, tmp_path):
    styles = tmp_path / "styles"
    styles.mkdir()
    shutil.copy(STYLES / "flames.json", styles)
    (styles / "broken.json").write_text("{not json")
    result = run(vsp_bin, "styles", "--styles", styles)
    assert result.returncode == 1
    assert result.stdout.decode().startswith("flames ")
    one_error_line(result, "broken.json")


# 7. Batch integrity

def test_a_bad_model_fails_its_job_and_the_batch_goes_on(vsp_bin, tiny_model, tmp_path):
    broken = copy_model(tiny_model, tmp_path)
    (broken / "unet.pt").write_bytes(b"corrupt")
    jobs = batch_file(tmp_path, {"mode": "generate", "name": "good", "prompt": "a", "steps": 2},
                      {"mode": "generate", "name": "corrupt", "prompt": "a", "steps": 2, "model": str(broken)},
                      {"mode": "generate", "name": "missing", "prompt": "a", "steps": 2, "model": "nowhere"})
    result = run(vsp_bin, "batch", jobs, "--model", tiny_model, "--out", tmp_path / "out", "-q")
    assert result.returncode == 1
    lines = [json.loads(line) for line in (tmp_path / "out" / "summary.jsonl").read_text().splitlines()]
    status = {line["job"]: line["status"] for line in lines}
    assert status == {"good": "done", "corrupt": "failed", "missing": "failed"}
    assert (tmp_path / "out" / "good_s0.png").exists()


def test_file_and_folder_with_one_path_are_duplicates(vsp_bin, tiny_model, tmp_path):
    jobs = batch_file(tmp_path, {"mode": "generate", "name": "a", "prompt": "a", "steps": 2},
                      {"mode": "style", "style": "fire", "name": "a_s0.png", "steps": 4})
    one_error_line(run(vsp_bin, "batch", jobs, "--model", tiny_model, "--out", tmp_path / "out"), "a_s0.png",
                   "jobs[0] and jobs[1]")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("where", ["jobs", "defaults", "prompt"])
def test_deeply_nested_json_is_a_clean_error(vsp_bin, tiny_model, tmp_path, where):
    deep = "[" * 100000 + "]" * 100000
    text = {"jobs": '{"jobs": %s}' % deep, "defaults": '{"defaults": {"prompt": %s}, "jobs": [{}]}' % deep,
            "prompt": '{"jobs": [{"mode": "generate", "prompt": %s}]}' % deep}[where]
    jobs = tmp_path / "jobs.json"
    jobs.write_text(text)
    one_error_line(run(vsp_bin, "batch", jobs, "--model", tiny_model, "--out", tmp_path / "out", timeout=30),
                   "jobs.json")


def test_junit_stays_well_formed_for_names_that_are_not_utf8(vsp_bin, tmp_path):
    golden, actual = tmp_path / "golden", tmp_path / "actual"
    for folder, colour in ((golden, "red"), (actual, "blue")):
        folder.mkdir()
        Image.new("RGB", (8, 8), colour).save(os.path.join(os.fsencode(str(folder)), b"caf\xe9 <&>.png"))
    result = run(vsp_bin, "check", "--golden", golden, "--actual", actual, "--report", tmp_path / "report")
    assert result.returncode == 1
    root = ElementTree.parse(tmp_path / "report" / "junit.xml").getroot()
    assert len(root.iter("failure").__next__().attrib["message"]) > 0


def test_resume_knows_the_model_however_its_path_is_spelled(vsp_bin, tiny_model, tmp_path):
    jobs = batch_file(tmp_path, {"mode": "generate", "prompt": "a", "steps": 2})
    out = tmp_path / "out"
    relative = os.path.relpath(tiny_model, tmp_path)
    for spelling in (relative, "./" + relative, relative + "/", str(tiny_model)):
        assert run(vsp_bin, "batch", jobs, "--model", spelling, "--out", out, "-q", "--resume",
                   cwd=tmp_path).returncode == 0
    statuses = [json.loads(line)["status"] for line in (out / "summary.jsonl").read_text().splitlines()]
    assert statuses[-1] == "skipped"


# 8. Reproducibility

def test_threads_flag_runs_and_is_not_part_of_the_metadata(vsp_bin, tiny_model, tmp_path):
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.png"
        assert run(vsp_bin, *generate(tiny_model, "--threads", threads, "--out", out)).returncode == 0
    assert metadata(tmp_path / "t1.png") == metadata(tmp_path / "t2.png")
