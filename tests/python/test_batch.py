"""`vsp batch` end to end on the tiny export: every mode in one jobs file, batching, kill -9 and
Ctrl-C followed by --resume, shards (flag and scheduler variables), --check and bad jobs files."""
import json
import os
import signal
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from conftest import assert_within_chunking_bound


def write_style_image(path):
    y, x = np.mgrid[0:64, 0:64]
    Image.fromarray(np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)).save(path)


def write_jobs(folder, steps=3, **defaults):
    """Seven jobs across the modes: generate (batched, num 2, a negative, DDIM), two styles and a
    style image."""
    write_style_image(folder / "The starry night.png")
    jobs = {
        "defaults": {"steps": steps, "cfg": 5.0, **defaults},
        "jobs": [
            {"mode": "generate", "name": "lighthouse", "prompt": "a lighthouse at dusk", "seed": 7},
            {"mode": "generate", "prompt": "a red fox", "seed": 1, "num": 2},
            {"mode": "generate", "name": "cat", "prompt": "a cat", "seed": 3, "negative": "blurry"},
            {"mode": "style", "name": "fire", "style": "flames", "object": ["a cat", "a dog"], "seeds": [1, 2]},
            {"mode": "generate", "name": "boat", "prompt": "a boat", "sampler": "ddim", "seed": 4},
            {"mode": "style", "name": "watercolor", "style": "watercolor", "num": 1},
            {"mode": "style", "name": "starry", "style_image": "The starry night.png", "object": "a house"},
        ],
    }
    path = folder / "jobs.json"
    path.write_text(json.dumps(jobs, indent=2))
    return path


EXPECTED = sorted([
    "lighthouse_s7.png", "job-001_s1_0.png", "job-001_s1_1.png", "cat_s3.png", "boat_s4.png",
    "fire/reference.png", "fire/00_a-cat-made-of-fire-roaring-flames-glowin_s1.png",
    "fire/01_a-dog-made-of-fire-roaring-flames-glowin_s2.png", "fire/grid.png",
    "watercolor/reference.png", "watercolor/00_a-fox-watercolor-painting-soft-wet-edges_s1.png", "watercolor/grid.png",
    "starry/reference.png", "starry/00_a-house_s0.png", "starry/grid.png",
])


def pngs(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def hidden_files(folder):
    """Temporaries left behind: hidden files other than the run's record of its outputs."""
    return [p for p in folder.rglob(".*") if p.name != ".vsp-run.json"]


def summary(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def full_run(run_vsp, tiny_model, tmp_path):
    """The uninterrupted, unsharded run every other run is compared with."""
    jobs = write_jobs(tmp_path)
    out = tmp_path / "full"
    run_vsp("batch", jobs, "--model", tiny_model, "--out", out, "-q")
    return jobs, out


def test_batch_writes_every_job_with_metadata_and_summary(full_run):
    jobs, out = full_run
    assert sorted(pngs(out)) == EXPECTED
    lines = summary(out / "summary.jsonl")
    assert [line["index"] for line in lines] == list(range(7))
    assert all(line["status"] == "done" for line in lines)
    assert sorted(lines[3]["files"]) == [f for f in EXPECTED if f.startswith("fire/")]
    with Image.open(out / "cat_s3.png") as image:
        meta, parameters = json.loads(image.text["vsp"]), image.text["parameters"]
    # The job as given keeps only what the top level does not already say, so each prompt is stored once.
    assert meta["job"] == {"name": "cat"}
    assert (meta["mode"], meta["prompt"], meta["negative"], meta["seed"], meta["steps"], meta["cfg"]) == (
        "generate", "a cat", "blurry", 3, 3, 5.0)
    assert len(meta["model_hash"]) == 16 and meta["vsp_version"]
    assert "Negative prompt: blurry" in parameters and "Seed: 3" in parameters


ALONE = {
    "lighthouse_s7.png": ["--prompt", "a lighthouse at dusk", "--seed", 7],
    "cat_s3.png": ["--prompt", "a cat", "--seed", 3, "--negative", "blurry"],
}


def run_alone(run_vsp, tiny_model, folder, *extra):
    for name, args in ALONE.items():
        run_vsp("generate", *args, "--steps", 3, "--cfg", 5.0, "--model", tiny_model, "--out", folder / name, "-q",
                *extra)


@pytest.mark.chunking
def test_batched_jobs_stay_within_the_bound_of_the_same_jobs_run_alone(run_vsp, tiny_model, full_run, tmp_path):
    """Bounded: lighthouse, job-001 and cat run as one UNet batch; each is within the chunking
    bound of a lone vsp generate."""
    _, out = full_run
    run_alone(run_vsp, tiny_model, tmp_path)
    for name in ALONE:
        assert_within_chunking_bound(Image.open(out / name), Image.open(tmp_path / name), name)


@pytest.mark.chunking
def test_deterministic_batch_equals_the_same_jobs_run_alone(run_vsp, tiny_model, tmp_path):
    """Byte-identity: under --deterministic no jobs share a UNet call, so a batch's image is the
    lone vsp generate's, pixel for pixel."""
    jobs = json.loads(write_jobs(tmp_path).read_text())
    jobs["jobs"] = jobs["jobs"][:3]  # lighthouse, job-001 (num 2) and cat: batched together without the flag
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    run_vsp("batch", tmp_path / "jobs.json", "--model", tiny_model, "--out", tmp_path / "batch", "-q",
            "--deterministic")
    run_alone(run_vsp, tiny_model, tmp_path, "--deterministic")
    for name in ALONE:
        assert np.array_equal(np.asarray(Image.open(tmp_path / "batch" / name)),
                              np.asarray(Image.open(tmp_path / name))), name


def start_batch(vsp_bin, jobs, model, out, *extra):
    return subprocess.Popen([str(vsp_bin), "batch", str(jobs), "--model", str(model), "--out", str(out),
                             "--log-json", *map(str, extra)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def wait_for_jobs(process, count):
    """Reads the JSON progress lines until `count` jobs are done."""
    done = 0
    for line in process.stdout:
        event = json.loads(line)
        if event["event"] == "job" and event["status"] == "done":
            done += 1
            if done == count:
                return
    raise AssertionError(f"the batch ended before {count} jobs were done: {process.stderr.read()}")


@pytest.mark.parametrize("after_jobs", [1, 4])
def test_kill_9_then_resume_gives_the_same_files(vsp_bin, run_vsp, tiny_model, tmp_path, after_jobs):
    # More steps than full_run: slow enough to be killed with jobs left to do.
    jobs = write_jobs(tmp_path, steps=12)
    full, killed = tmp_path / "full", tmp_path / "killed"
    run_vsp("batch", jobs, "--model", tiny_model, "--out", full, "-q", "--batch-size", 1)
    process = start_batch(vsp_bin, jobs, tiny_model, killed, "--batch-size", 1)
    wait_for_jobs(process, after_jobs)
    process.send_signal(signal.SIGKILL)
    process.wait()
    reference, partial = pngs(full), pngs(killed)
    assert len(partial) < len(reference), "the kill came too late to test anything"
    assert not hidden_files(killed), f"temporary files left after kill -9: {hidden_files(killed)}"
    for name, data in partial.items():
        assert data == reference[name], f"{name}: written before the kill, yet not the final file"

    run_vsp("batch", jobs, "--model", tiny_model, "--out", killed, "-q", "--batch-size", 1, "--resume")
    assert pngs(killed) == reference
    statuses = [line["status"] for line in summary(killed / "summary.jsonl")]
    assert statuses.count("skipped") >= after_jobs and statuses.count("done") == 7 - statuses.count("skipped")


def test_ctrl_c_stops_cleanly_and_resume_finishes(vsp_bin, run_vsp, tiny_model, tmp_path):
    jobs = write_jobs(tmp_path, steps=12)
    full, stopped = tmp_path / "full", tmp_path / "stopped"
    run_vsp("batch", jobs, "--model", tiny_model, "--out", full, "-q", "--batch-size", 1)
    process = start_batch(vsp_bin, jobs, tiny_model, stopped, "--batch-size", 1)
    wait_for_jobs(process, 2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr
    assert not hidden_files(stopped)
    # The stop comes at the next step, or before the next job when it falls between two; every job
    # is in the summary, those never started as not-run.
    statuses = [line["status"] for line in summary(stopped / "summary.jsonl")]
    assert len(statuses) == 7 and sorted(line["index"] for line in summary(stopped / "summary.jsonl")) == list(range(7))
    assert 2 <= statuses.count("done") < 7 and set(statuses) <= {"done", "interrupted", "not-run"}
    run_vsp("batch", jobs, "--model", tiny_model, "--out", stopped, "-q", "--batch-size", 1, "--resume")
    assert pngs(stopped) == pngs(full)


def test_resume_redoes_only_the_jobs_that_changed(run_vsp, tiny_model, full_run):
    jobs, out = full_run
    spec = json.loads(jobs.read_text())
    spec["jobs"][2]["seed"] = 3
    spec["jobs"][2]["negative"] = "dark"
    jobs.write_text(json.dumps(spec))
    before = pngs(out)
    run_vsp("batch", jobs, "--model", tiny_model, "--out", out, "-q", "--resume")
    statuses = {line["job"]: line["status"] for line in summary(out / "summary.jsonl")}
    assert statuses.pop("cat") == "done" and set(statuses.values()) == {"skipped"}
    after = pngs(out)
    assert after["cat_s3.png"] != before["cat_s3.png"]
    assert {k: v for k, v in after.items() if k != "cat_s3.png"} == \
        {k: v for k, v in before.items() if k != "cat_s3.png"}


SHARD_SOURCES = {
    "flag": lambda i: ({}, ["--shard", f"{i}/2"]),
    "slurm": lambda i: ({"SLURM_ARRAY_TASK_ID": str(i + 1), "SLURM_ARRAY_TASK_MIN": "1",
                         "SLURM_ARRAY_TASK_COUNT": "2"}, []),
    "kubernetes": lambda i: ({"JOB_COMPLETION_INDEX": str(i), "VSP_SHARD_COUNT": "2"}, []),
}


@pytest.mark.chunking
@pytest.mark.parametrize("source", sorted(SHARD_SOURCES))
def test_shards_together_make_the_unsharded_files(vsp_bin, tiny_model, full_run, tmp_path, source):
    jobs, full = full_run
    sharded = tmp_path / "sharded"
    for i in range(2):
        env, args = SHARD_SOURCES[source](i)
        result = subprocess.run([str(vsp_bin), "batch", str(jobs), "--model", str(tiny_model), "--out", str(sharded),
                                 "-q", *args], env={**os.environ, **env}, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    # Bounded: a shard batches other neighbours into a UNet call than the whole file does.
    assert sorted(pngs(sharded)) == sorted(pngs(full))
    for name in pngs(full):
        with Image.open(sharded / name) as a, Image.open(full / name) as b:
            assert_within_chunking_bound(a, b, name)
            assert a.text == b.text, name
    indices = [[line["index"] for line in summary(sharded / f"summary-shard-{i}-of-2.jsonl")] for i in range(2)]
    assert indices == [[0, 2, 4, 6], [1, 3, 5]]


def test_check_passes_on_the_same_images_and_fails_on_a_change(run_vsp, tiny_model, full_run, tmp_path):
    jobs, golden = full_run
    report = tmp_path / "report"
    args = ["batch", jobs, "--model", tiny_model, "-q", "--check", golden, "--report", report]
    result = run_vsp(*args, "--out", tmp_path / "same")
    assert "15 passed, 0 failed, 0 missing, 0 extra" in result.stdout
    assert not ET.parse(report / "junit.xml").getroot().findall(".//failure")

    changed = np.asarray(Image.open(golden / "cat_s3.png")).copy()
    changed[10:20, 10:20] = 255 - changed[10:20, 10:20]
    Image.fromarray(changed).save(golden / "cat_s3.png")
    result = run_vsp(*args, "--out", tmp_path / "again", check=False)
    assert result.returncode == 1, result.stderr
    failures = ET.parse(report / "junit.xml").getroot().findall(".//testcase[failure]")
    assert [case.get("name") for case in failures] == ["cat_s3.png"]
    assert (report / "diffs" / "cat_s3.png").exists()

    (golden / "boat_s4.png").unlink()
    assert run_vsp(*args, "--out", tmp_path / "extra", check=False).returncode == 2


def test_log_json_reports_every_step_and_job(run_vsp, tiny_model, tmp_path):
    jobs = write_jobs(tmp_path)
    result = run_vsp("batch", jobs, "--model", tiny_model, "--out", tmp_path / "out", "--log-json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0] == {**events[0], "event": "start", "jobs": 7, "images": 15}
    assert events[-1]["event"] == "done" and events[-1]["outcome"] == "done"
    assert [e["job"] for e in events if e["event"] == "job"] == [
        "lighthouse", "job-001", "cat", "fire", "boat", "watercolor", "starry"]
    steps = [e for e in events if e["event"] == "step"]
    assert all(e["job"] and e["phase"] in {"load", "denoise", "decode"} for e in steps), steps
    assert any(e["phase"] == "denoise" and e["step"] == e["steps"] == 3 for e in steps)
    loads = [e for e in steps if e["phase"] == "load"]
    assert loads[0]["job"].startswith("model ") and "text_encoder" in loads[0]["detail"]
    assert loads[-1]["step"] == loads[-1]["steps"]
    decodes = [e for e in steps if e["phase"] == "decode"]
    assert decodes and decodes[-1]["step"] == decodes[-1]["steps"]


def bad(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    return path


def generate_job(**fields):
    return json.dumps({"jobs": [{"mode": "generate", "prompt": "x", **fields}]})


BAD_FILES = {
    # name: (jobs file text, words the one-line message must contain)
    "malformed JSON": ('{"jobs": [\n  {"mode": "generate",\n   "prompt": "x",}\n]}', ["bad.json:3:18", "invalid JSON"]),
    "unknown mode": (json.dumps({"jobs": [{"mode": "generat"}]}), ['unknown mode "generat"', 'did you mean "generate"']),
    "unknown field": (generate_job(sed=4), ['jobs[0]', 'unknown field "sed"', 'did you mean "seed"']),
    "wrong type": (generate_job(steps="ten"), ['"steps" must be an integer >= 1, got "ten"']),
    "duplicate outputs": (json.dumps({"jobs": [{"mode": "generate", "name": "a"}, {"mode": "generate", "name": "a"}]}),
                          ["jobs[0] and jobs[1] both write a_s0.png", '"name"']),
    "unknown style": (json.dumps({"jobs": [{"mode": "style", "style": "fyre"}]}), ["unknown style 'fyre'", "fire"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_jobs_file_is_reported_before_anything_runs(run_vsp, tiny_model, tmp_path, case):
    text, words = BAD_FILES[case]
    out = tmp_path / "out"
    result = run_vsp("batch", bad(tmp_path, text), "--model", tiny_model, "--out", out, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert not out.exists(), "nothing may be written before the whole file is checked"


def test_unwritable_output_folder_is_reported_before_anything_runs(run_vsp, tiny_model, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_vsp("batch", bad(tmp_path, generate_job()), "--model", tiny_model, "--out", blocker / "out",
                     check=False)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and "a-file" in result.stderr and "--out" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
