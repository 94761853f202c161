"""The exporter's contract: one vsp::attention call per attention module, listed in execution
order in the manifest, and an export from a local diffusers folder equal to the random one."""
import json

import pytest
import torch

import vsp_export.op  # noqa: F401  (registers vsp::attention so the TorchScript files load)


def test_traced_unet_calls_the_op_once_per_attention_module(tiny_model):
    manifest = json.loads((tiny_model / "manifest.json").read_text())
    layers = manifest["attention_layers"]
    unet = torch.jit.load(str(tiny_model / "unet.pt"))
    calls = [n for n in unet.inlined_graph.nodes() if n.kind() == "vsp::attention"]
    assert len(calls) == len(layers) == 34
    assert sorted(n.inputsAt(3).toIValue() for n in calls) == list(range(len(layers)))
    assert sum(row["kind"] == "self" for row in layers) == 17


def test_layer_table_is_in_execution_order(tiny_model):
    layers = json.loads((tiny_model / "manifest.json").read_text())["attention_layers"]
    blocks = [row["block"] for row in layers]
    order = ["down_blocks.1", "down_blocks.2", "mid_block", "up_blocks.0", "up_blocks.1"]
    assert sorted(set(blocks), key=order.index) == order
    assert blocks == sorted(blocks, key=order.index), "mid_block must come between down and up blocks"
    assert [row["id"] for row in layers] == list(range(len(layers)))
    assert all(row["kind"] == ("self" if row["name"].endswith("attn1") else "cross") for row in layers)


def residuals(manifest, rows, latent):
    """Random ControlNet residuals of the shapes the manifest lists: (down tuple, mid)."""
    shape = lambda channels, level: torch.randn(rows, channels, latent >> level, latent >> level)  # noqa: E731
    listed = manifest["unet"]["residuals"]
    return tuple(shape(*pair) for pair in listed["down"]), shape(*listed["mid"])


def test_export_from_a_local_diffusers_folder(tiny_model, tmp_path):
    import subprocess
    import sys
    from conftest import DATA, ROOT
    out = tmp_path / "from-folder"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "export.py"), "--model", str(DATA / "tiny-diffusers"),
                    "--out", str(out)], check=True, capture_output=True)
    ours, theirs = (json.loads((p / "manifest.json").read_text()) for p in (tiny_model, out))
    assert ours["attention_layers"] == theirs["attention_layers"]
    inputs = (torch.randn(2, 4, 8, 8), torch.tensor(321.0), torch.randn(2, 77, 64), torch.randn(2, 32), torch.randn(2, 6),
              *residuals(ours, 2, 8))
    a = torch.jit.load(str(tiny_model / "unet.pt"))(*inputs)
    b = torch.jit.load(str(out / "unet.pt"))(*inputs)
    assert torch.equal(a, b)
    assert not (tmp_path / "from-folder.partial").exists()


@pytest.mark.parametrize("family", ["sd1", "sd2"])
def test_family_is_detected_from_a_diffusers_folder(tmp_path, family):
    import subprocess
    import sys
    from conftest import DATA, ROOT
    out = tmp_path / family
    subprocess.run([sys.executable, str(ROOT / "scripts" / "export.py"), "--model", str(DATA / f"{family}-tiny-diffusers"),
                    "--out", str(out)], check=True, capture_output=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["family"] == family and not manifest["unet"]["added_conditioning"]
    assert [e["hidden_state"] for e in manifest["text_encoders"]] == ["final"]
    assert manifest["scheduler"]["prediction_type"] == ("v_prediction" if family == "sd2" else "epsilon")
    inputs = (torch.randn(2, 4, 8, 8), torch.tensor(321.0), torch.randn(2, 77, manifest["unet"]["cross_attention_dim"]),
              *residuals(manifest, 2, 8))
    expected = torch.jit.load(str(DATA / f"{family}-tiny" / "unet.pt"))(*inputs)
    assert torch.equal(torch.jit.load(str(out / "unet.pt"))(*inputs), expected)
