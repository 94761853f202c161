"""`cmake --install` (README, "Install"): the installed binary finds its styles from its own
location, in any current folder; VSP_MODEL names the default model; the bash completion offers
flags and style names."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, exported


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("prefix")
    result = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return prefix


def test_install_lays_out_bin_and_share(prefix):
    for path in ("bin/vsp", "share/vsp/configs/styles/fire.json", "share/vsp/configs/templates.json",
                 "share/vsp/configs/diffusers/sdxl-base/model_index.json", "share/vsp/scripts/export.py",
                 "share/vsp/scripts/vsp_export/trace.py", "share/bash-completion/completions/vsp"):
        assert (prefix / path).is_file(), path
    assert os.access(prefix / "bin/vsp", os.X_OK)


def test_installed_vsp_finds_its_styles_from_any_folder(prefix, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("VSP_STYLES", "VSP_MODEL")}
    result = subprocess.run([str(prefix / "bin/vsp"), "styles"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "fire" in result.stdout


def test_a_copied_binary_without_its_share_folder_says_how_to_fix_it(prefix, tmp_path):
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(prefix / "bin/vsp", lone / "vsp")
    env = {k: v for k, v in os.environ.items() if k != "VSP_STYLES"}
    result = subprocess.run([str(lone / "vsp"), "styles"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cmake --install" in lines[0] and "VSP_STYLES" not in lines[0], result.stderr


def test_vsp_model_names_the_default_model(prefix, tmp_path):
    env = dict(os.environ, VSP_MODEL=str(exported("tiny")))
    result = subprocess.run([str(prefix / "bin/vsp"), "generate", "-p", "a cat", "--steps", "1", "-q", "-o", "a.png"],
                            cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.png").is_file()


def complete(prefix, line):
    """The completions bash offers for `line` (the cursor at its end)."""
    script = (f"source {prefix}/share/bash-completion/completions/vsp; COMP_WORDS=({line}); "
              f"COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); [[ '{line}' == *' ' ]] && COMP_WORDS+=('') && "
              f"COMP_CWORD=$((COMP_CWORD + 1)); _vsp {prefix}/bin/vsp; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout.split()


def test_bash_completion_offers_flags_commands_and_styles(prefix):
    assert "--steps" in complete(prefix, "vsp generate --st")
    assert "generate" in complete(prefix, "vsp gen")
    assert "fire" in complete(prefix, "vsp --style fi")
