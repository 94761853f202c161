"""Shared fixtures: the vsp binary, the tiny export and its diffusers twin (written by
scripts/test.sh), and a helper to run the CLI."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("VSP_BUILD_DIR", ROOT / "build"))
DATA = BUILD / "testdata"
sys.path.insert(0, str(ROOT / "scripts"))


# What vsp promises across chunkings (README, "Reproducibility"). The same job with the same
# chunking and thread count on the same machine is byte-identical; --deterministic (one image per
# UNet call) makes an image byte-identical whatever else shares its run. Without it, a row's
# numbers may depend on the rows beside it in a UNet call (CPU kernels are picked by problem
# size and ISA), within these bounds: pixels within 1/255, final latents within LATENT_BOUND.
PIXEL_BOUND = 1
LATENT_BOUND = 1e-3


def pytest_configure(config):
    config.addinivalue_line("markers", "chunking: compares images across chunkings or reruns; scripts/test.sh "
                                       "reruns these under other CPU dispatch paths")


def assert_within_chunking_bound(a, b, what):
    """Images (uint8 arrays) that may differ only as chunking allows without --deterministic."""
    diff = np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int))
    assert diff.max() <= PIXEL_BOUND, (f"{what}: up to {diff.max()}/255 apart ({(diff > 0).sum()} values); "
                                       f"chunking may change a pixel by at most {PIXEL_BOUND}/255")


def assert_latents_within_chunking_bound(a, b, what):
    diff = float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())
    assert diff <= LATENT_BOUND, f"{what}: final latents {diff:.3g} apart; chunking may move them {LATENT_BOUND}"


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
