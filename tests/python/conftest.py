"""Shared fixtures: the vsp binary, the tiny export and its diffusers twin (written by
scripts/test.sh), and a helper to run the CLI."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VSP_BUILD_DIR", ROOT / "build"))
DATA = BUILD / "testdata"
sys.path.insert(0, str(ROOT / "scripts"))


@pytest.fixture(scope="session")
def vsp_bin():
    path = BUILD / "vsp"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/setup.sh (or scripts/test.sh)")
    return path


def exported(name):
    path = DATA / name
    if not (path / "manifest.json").exists():
        pytest.fail(f"{path} is missing: run scripts/test.sh, which exports it")
    return path


@pytest.fixture(scope="session")
def tiny_model():
    return exported("tiny")


@pytest.fixture(scope="session")
def sd1_model():
    return exported("sd1-tiny")


@pytest.fixture(scope="session")
def tiny_pipeline():
    import torch
    from diffusers import StableDiffusionXLPipeline
    torch.set_grad_enabled(False)
    return StableDiffusionXLPipeline.from_pretrained(DATA / "tiny-diffusers", torch_dtype=torch.float32)


@pytest.fixture
def run_vsp(vsp_bin):
    def run(*args, check=True):
        result = subprocess.run([str(vsp_bin), *map(str, args)], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(f"vsp {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
        return result
    return run
