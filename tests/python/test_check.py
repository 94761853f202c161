"""vsp check end to end: exit codes, the table, junit.xml and difference images, on PNGs made here."""
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image


def gradient(width=16, height=12):
    x, y, c = np.meshgrid(np.arange(width), np.arange(height), np.arange(3))
    return (x * 5 + y * 3 + c * 40).astype(np.uint8)  # at most 75 + 33 + 80 = 188


def save(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")


def folders(tmp_path, files):
    """golden/ and actual/ with the same images `files` (name -> pixels) in both."""
    golden, actual = tmp_path / "golden", tmp_path / "actual"
    for name, pixels in files.items():
        save(golden / name, pixels)
        save(actual / name, pixels)
    return golden, actual


def check(run_vsp, golden, actual, report, *extra):
    return run_vsp("check", "--golden", golden, "--actual", actual, "--report", report, *extra, check=False)


def test_identical_folders_pass_and_print_a_table(run_vsp, tmp_path):
    golden, actual = folders(tmp_path, {"a.png": gradient(), "sub/b.png": gradient(8, 8)})
    (actual / "summary.jsonl").write_text("{}\n")  # not an image: ignored
    save(actual / ".c.png.tmp-1-0", gradient())  # an atomic write's temporary: ignored
    result = check(run_vsp, golden, actual, tmp_path / "report")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["file", "status", "max", "diff", "PSNR", "(dB)", "note"]
    assert lines[1].split() == ["a.png", "pass", "0", "inf"]
    assert lines[2].split() == ["sub/b.png", "pass", "0", "inf"]
    assert lines[1].index("pass") == lines[2].index("pass")  # aligned columns
    report = tmp_path / "report" / "junit.xml"
    assert lines[-1] == f"check: 2 passed, 0 failed, 0 missing, 0 extra (max diff 3, min PSNR 40 dB); report in {report}"
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite.get("name") == "vsp check" and suite.get("tests") == "2" and suite.get("failures") == "0"
    assert [case.get("name") for case in suite.iter("testcase")] == ["a.png", "sub/b.png"]


def test_regression_exits_1_with_failure_and_difference_image(run_vsp, tmp_path):
    golden, actual = folders(tmp_path, {"same.png": gradient()})
    save(golden / "changed.png", gradient())
    changed = gradient()
    changed[4, 5, 1] += 12
    save(actual / "changed.png", changed)
    report = tmp_path / "report"
    result = check(run_vsp, golden, actual, report)
    assert result.returncode == 1, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("changed.png"))
    assert row.split()[:3] == ["changed.png", "fail", "12"] and "max diff 12 > 3" in row
    assert "1 passed, 1 failed, 0 missing, 0 extra" in result.stdout

    cases = {case.get("name"): case for case in ET.parse(report / "junit.xml").getroot().iter("testcase")}
    assert cases["same.png"].find("failure") is None
    failure = cases["changed.png"].find("failure")
    assert failure.get("type") == "regression" and failure.get("message") == "max diff 12 > 3"
    assert "diffs/changed.png" in failure.text

    diff = np.asarray(Image.open(report / "diffs" / "changed.png"))
    assert diff.shape == (12, 3 * 16 + 2 * 4, 3)  # golden | actual | difference, 4 px gaps
    panel = diff[:, 2 * (16 + 4):]
    assert panel[4, 5, 1] == 96 and panel.sum() == 96  # 12 amplified 8 times, nothing else
    assert not (report / "diffs" / "same.png").exists()


def test_thresholds_are_flags(run_vsp, tmp_path):
    golden, actual = folders(tmp_path, {})
    save(golden / "a.png", gradient())
    save(actual / "a.png", gradient() + 3)  # max diff 3, PSNR 38.6 dB
    assert check(run_vsp, golden, actual, tmp_path / "r").returncode == 1  # PSNR below 40
    assert check(run_vsp, golden, actual, tmp_path / "r", "--min-psnr", 38).returncode == 0
    assert check(run_vsp, golden, actual, tmp_path / "r", "--min-psnr", 38, "--max-diff", 2).returncode == 1


def test_missing_and_extra_exit_2(run_vsp, tmp_path):
    golden, actual = folders(tmp_path, {"a.png": gradient()})
    save(golden / "gone.png", gradient())
    result = check(run_vsp, golden, actual, tmp_path / "r1")
    assert result.returncode == 2
    assert "gone.png" in result.stdout and "missing" in result.stdout
    failure = ET.parse(tmp_path / "r1" / "junit.xml").getroot().find(".//testcase[@name='gone.png']/failure")
    assert failure.get("type") == "missing"

    (golden / "gone.png").unlink()
    save(actual / "new.png", gradient())
    save(actual / "a.png", gradient() + 50)  # also a regression: extra still wins
    result = check(run_vsp, golden, actual, tmp_path / "r2")
    assert result.returncode == 2
    assert "0 passed, 1 failed, 0 missing, 1 extra" in result.stdout


def test_size_mismatch_fails(run_vsp, tmp_path):
    golden, actual = tmp_path / "golden", tmp_path / "actual"
    save(golden / "a.png", gradient(16, 12))
    save(actual / "a.png", gradient(12, 16))
    result = check(run_vsp, golden, actual, tmp_path / "r")
    assert result.returncode == 1
    assert "size differs: golden 16x12, actual 12x16" in result.stdout


def test_missing_golden_folder_is_a_one_line_error(run_vsp, tmp_path):
    (tmp_path / "actual").mkdir()
    result = check(run_vsp, tmp_path / "no-golden", tmp_path / "actual", tmp_path / "r")
    assert result.returncode == 1
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1
    assert "no-golden" in result.stderr and "vsp batch" in result.stderr
    assert not (tmp_path / "r").exists()


def test_help_lists_the_flags(run_vsp):
    text = run_vsp("check", "--help").stdout
    for flag in ("--golden", "--actual", "--max-diff", "--min-psnr", "--report"):
        assert flag in text
