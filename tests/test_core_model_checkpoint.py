"""Checkpoint files: round trip, and a clear ModelFileError for every broken file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.checkpoint import (  # noqa: E402
    CONFIG_FILE,
    DEFAULT_WEIGHTS,
    WEIGHTS_FILE,
    build_modules,
    load_checkpoint,
    save_checkpoint,
)
from core.config import ModelConfig  # noqa: E402
from core.errors import ModelFileError  # noqa: E402
from core.modeling import PartEncoder, ScaleAwareDecoder  # noqa: E402

torch.set_num_threads(1)
SMALL = ModelConfig(
    point_dim=16, voxel_resolution=8, voxel_channels=8, plane_resolution=16, plane_channels=16,
    token_resolution=4, token_dim=32, token_heads=2, feature_dim=32, decoder_dim=32,
    num_heads=4, num_anchors=32, scale_freqs=8,
)


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    enc, dec = PartEncoder(SMALL), ScaleAwareDecoder(SMALL)
    save_checkpoint(tmp_path / "w", enc, dec, SMALL, {"trained": True, "notes": "test", "steps": 3})
    return tmp_path / "w", enc, dec


def test_round_trip_gives_identical_modules(saved):
    path, enc, dec = saved
    ckpt = load_checkpoint(path)
    assert ckpt.config == SMALL
    assert ckpt.metadata["trained"] is True and ckpt.metadata["steps"] == 3
    assert ckpt.metadata["notes"] == "test" and "created" in ckpt.metadata
    enc2, dec2 = build_modules(ckpt)
    for a, b in ((enc, enc2), (dec, dec2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    xyz = torch.rand(1, 300, 3) * 2 - 1
    with torch.no_grad():
        assert torch.equal(enc.eval()(xyz), enc2(xyz))


def test_metadata_needs_trained_flag(tmp_path):
    with pytest.raises(ValueError, match="trained"):
        save_checkpoint(tmp_path, PartEncoder(SMALL), ScaleAwareDecoder(SMALL), SMALL, {})


def test_missing_directory_and_files(saved, tmp_path):
    path, _, _ = saved
    with pytest.raises(ModelFileError, match="does not exist"):
        load_checkpoint(tmp_path / "nowhere")
    (path / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelFileError, match=f"{WEIGHTS_FILE}: weights file is missing"):
        load_checkpoint(path)
    (path / CONFIG_FILE).unlink()
    with pytest.raises(ModelFileError, match=f"{CONFIG_FILE}: config file is missing"):
        load_checkpoint(path)


def test_truncated_weights(saved):
    path, _, _ = saved
    f = path / WEIGHTS_FILE
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_checkpoint(path)
    f.write_bytes(data[:5])
    with pytest.raises(ModelFileError, match=WEIGHTS_FILE):
        load_checkpoint(path)


def test_corrupt_config(saved):
    path, _, _ = saved
    (path / CONFIG_FILE).write_text('{"format": 1, "config": {')
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_checkpoint(path)
    (path / CONFIG_FILE).write_text(json.dumps({"format": 1, "config": {}, "metadata": {}}))
    with pytest.raises(ModelFileError, match="trained"):
        load_checkpoint(path)


def test_config_that_does_not_match_the_weights(saved):
    path, _, _ = saved
    doc = json.loads((path / CONFIG_FILE).read_text())
    doc["config"]["feature_dim"] = 48  # a shape the numpy check sees
    (path / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="does not match"):
        load_checkpoint(path)
    doc["config"]["feature_dim"] = SMALL.feature_dim
    doc["config"]["mlp_ratio"] = 3  # only building the modules sees this one
    (path / CONFIG_FILE).write_text(json.dumps(doc))
    ckpt = load_checkpoint(path)
    with pytest.raises(ModelFileError, match="weights do not match the config"):
        build_modules(ckpt)


def test_bundled_default_weights_load(tmp_path):
    ckpt = load_checkpoint(None)
    assert ckpt.path == DEFAULT_WEIGHTS
    assert isinstance(ckpt.metadata["trained"], bool)
    enc, dec = build_modules(ckpt)
    assert sum(p.numel() for p in enc.parameters()) > 0
    # copying the directory elsewhere keeps it loadable
    shutil.copytree(DEFAULT_WEIGHTS, tmp_path / "copy")
    assert np.array_equal(
        load_checkpoint(tmp_path / "copy").encoder_state["pos_embed"], ckpt.encoder_state["pos_embed"]
    )


def test_export_cli_writes_a_complete_onnx_weights_dir(saved, tmp_path, capsys):
    from core.backends import OnnxBackend, TorchBackend
    from core.export import main

    path, _, _ = saved
    out = tmp_path / "exported"
    main(["--weights", str(path), "--out", str(out)])
    printed = json.loads(capsys.readouterr().out)
    assert set(printed["bytes"]) >= {"encoder.onnx", "decoder_condition.onnx",
                                     "decoder_prompt.onnx", "onnx.json", WEIGHTS_FILE, CONFIG_FILE}
    ob, tb = OnnxBackend(out, num_threads=1), TorchBackend(out, device="cpu")
    assert ob.metadata["trained"] is True and ob.config == SMALL
    xyz = (np.random.default_rng(0).random((700, 3)) * 2 - 1).astype(np.float32)
    np.testing.assert_allclose(ob.encode(xyz), tb.encode(xyz), atol=1e-4, rtol=1e-4)
