"""scripts/check_layers.py: the repository follows its layer order, and a planted upward include
is caught."""
import shutil
import subprocess
import sys

from conftest import ROOT


def check(root):
    return subprocess.run([sys.executable, ROOT / "scripts" / "check_layers.py", root], capture_output=True, text=True)


def test_the_repository_follows_the_layer_order():
    result = check(ROOT)
    assert result.returncode == 0, result.stdout


def test_an_upward_include_is_caught(tmp_path):
    for folder in ("src", "include"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    planted = tmp_path / "src" / "text" / "unicode.cpp"
    planted.write_text('#include "vsp/pipeline/denoiser.hpp"\n' + planted.read_text())
    result = check(tmp_path)
    assert result.returncode == 1
    assert "src/text/unicode.cpp:1: text includes \"vsp/pipeline/denoiser.hpp\"" in result.stdout
