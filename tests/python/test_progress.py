"""Progress in a log (stderr not a terminal): every long phase reports, each line with its ETA;
the model load names its modules; -q prints nothing."""
import re

from test_bad_input import run
from test_output_rules import picture, place  # noqa: F401 (a fixture)

LINE = re.compile(r"^(?P<label>\S+) (?P<phase>[a-z-]+) (?P<done>\d+)/(?P<total>\d+)(?P<detail>.*) "
                  r"\((?P<rate>[\d.]+) it/s, elapsed \d+:\d\d, ETA (\d+:\d\d|-)\)$")


def phases(stderr):
    lines = [LINE.match(line) for line in stderr.splitlines() if " it/s" in line]
    assert all(lines), stderr
    return lines


def test_a_real_image_edit_reports_every_phase(vsp_bin, place, tiny_model):
    result = run(vsp_bin, "edit", "--model", tiny_model, "-p", "a cat", "--to", "a dog", "--image", "cat.png",
                 "--inversion", "null-text", "-W", 64, "-H", 64, "--steps", 3,
                 "-o", "out", cwd=place)
    assert result.returncode == 0, result.stderr
    lines = phases(result.stderr.decode())
    seen = [m["phase"] for m in lines]
    assert [p for i, p in enumerate(seen) if i == 0 or seen[i - 1] != p] == [
        "load", "inversion", "null-text", "denoise", "decode"]
    loads = [m for m in lines if m["phase"] == "load"]
    assert "text_encoder" in loads[0]["detail"] and loads[-1]["done"] == loads[-1]["total"] == "3"
    for phase, total in (("inversion", 3), ("null-text", 3), ("denoise", 3), ("decode", 2)):
        last = [m for m in lines if m["phase"] == phase][-1]
        assert (last["done"], last["total"]) == (str(total), str(total)), phase


def test_quiet_prints_nothing(vsp_bin, place, tiny_model):
    result = run(vsp_bin, "transfer", "--model", tiny_model, "--content", "cat.png", "--style", "ink.png", "-W", 64,
                 "-H", 64, "--steps", 2, "-o", "out", "-q", cwd=place)
    assert result.returncode == 0 and result.stderr == b"", result.stderr
