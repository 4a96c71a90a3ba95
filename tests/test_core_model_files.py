"""Broken model files through the public API: a ModelFileError that names the file.

``Segmenter.from_pretrained(path)`` is what the Blender add-on and the batch script call;
every way a weights folder can be broken (missing, truncated, mismatched) must surface as
:class:`core.errors.ModelFileError` whose message names the offending file, never as a
crash inside onnxruntime, safetensors or torch. The ONNX cases need no torch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core import ModelFileError, Segmenter
from core.backends import BASE_ONNX, ENCODER_ONNX, ONNX_MANIFEST, torch_available
from core.checkpoint import CONFIG_FILE, DEFAULT_WEIGHTS, WEIGHTS_FILE

needs_torch = pytest.mark.skipif(not torch_available(), reason="torch backend not installed")


@pytest.fixture()
def weights(tmp_path) -> Path:
    """A private copy of the bundled weights folder (safetensors + config + ONNX files)."""
    d = tmp_path / "weights"
    shutil.copytree(DEFAULT_WEIGHTS, d)
    return d


def _load(path: Path, backend: str) -> Segmenter:
    return Segmenter.from_pretrained(str(path), backend=backend, num_threads=1)


def test_missing_folder_names_the_folder(tmp_path):
    missing = tmp_path / "no_such_weights"
    for backend in ("onnx", "auto"):
        with pytest.raises(ModelFileError, match="does not exist") as err:
            _load(missing, backend)
        assert str(missing) in str(err.value)


def test_missing_config_names_the_file(weights):
    (weights / CONFIG_FILE).unlink()
    with pytest.raises(ModelFileError, match="config file is missing") as err:
        _load(weights, "onnx")
    assert str(weights / CONFIG_FILE) in str(err.value)


@pytest.mark.parametrize("name", [ENCODER_ONNX, BASE_ONNX])
def test_missing_onnx_file_names_the_file(weights, name):
    (weights / name).unlink()
    with pytest.raises(ModelFileError, match="missing") as err:
        _load(weights, "onnx")
    assert str(weights / name) in str(err.value)


@pytest.mark.parametrize("name", [ENCODER_ONNX, BASE_ONNX])
def test_truncated_onnx_file_names_the_file(weights, name):
    f = weights / name
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFileError, match="cannot load ONNX model") as err:
        _load(weights, "onnx")
    assert str(f) in str(err.value)


def test_truncated_config_names_the_file(weights):
    f = weights / CONFIG_FILE
    f.write_text(f.read_text()[:40])
    with pytest.raises(ModelFileError, match="not valid JSON") as err:
        _load(weights, "onnx")
    assert str(f) in str(err.value)


def test_onnx_exported_for_another_config_is_refused(weights):
    """config.json edited after export (the weights file itself unchanged)."""
    doc = json.loads((weights / CONFIG_FILE).read_text())
    doc["config"]["knn_k"] = doc["config"]["knn_k"] + 1
    (weights / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="different config") as err:
        _load(weights, "onnx")
    assert ONNX_MANIFEST in str(err.value)


def test_weights_changed_after_export_are_refused(weights):
    f = weights / WEIGHTS_FILE
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])  # truncated: no longer what was exported
    with pytest.raises(ModelFileError, match="stale") as err:
        _load(weights, "onnx")
    assert WEIGHTS_FILE in str(err.value) and str(weights) in str(err.value)


def test_config_with_unknown_key_names_the_file(weights):
    doc = json.loads((weights / CONFIG_FILE).read_text())
    doc["config"]["feature_dims"] = 64  # a typo or a config from another model version
    (weights / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="unknown model config keys") as err:
        _load(weights, "onnx")
    assert str(weights / CONFIG_FILE) in str(err.value)


@needs_torch
def test_truncated_safetensors_names_the_file_torch(weights):
    f = weights / WEIGHTS_FILE
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupt") as err:
        _load(weights, "torch")
    assert str(f) in str(err.value)


@needs_torch
def test_missing_safetensors_names_the_file_torch(weights):
    (weights / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelFileError, match="weights file is missing") as err:
        _load(weights, "torch")
    assert str(weights / WEIGHTS_FILE) in str(err.value)


@needs_torch
def test_weights_that_do_not_match_the_config_torch(weights):
    doc = json.loads((weights / CONFIG_FILE).read_text())
    doc["config"]["feature_dim"] = doc["config"]["feature_dim"] // 2
    (weights / CONFIG_FILE).write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="does not match") as err:
        _load(weights, "torch")
    assert str(weights / WEIGHTS_FILE) in str(err.value)


def test_intact_copy_loads_and_segments(weights):
    """The copies above were broken on purpose; an intact copy works end to end."""
    import numpy as np

    seg = _load(weights, "onnx")
    assert seg.backend.name == "onnx" and isinstance(seg.metadata["trained"], bool)
    rng = np.random.default_rng(0)
    seg.set_points(rng.random((400, 3)))
    assert seg.predict([(0, True)], scale=0.3).point_probs.shape == (400,)


def test_onnx_only_folder_as_shipped_in_the_blender_zip(weights):
    """The extension ships config + ONNX files without model.safetensors: "auto" and
    "onnx" load it; asking for torch there names the missing weights file."""
    import numpy as np

    (weights / WEIGHTS_FILE).unlink()
    for backend in ("auto", "onnx"):
        seg = _load(weights, backend)
        assert seg.backend.name == "onnx"
    seg.set_points(np.random.default_rng(1).random((300, 3)))
    assert seg.segment_all(scale=0.5).point_labels.shape == (300,)
    if torch_available():
        with pytest.raises(ModelFileError, match="weights file is missing") as err:
            _load(weights, "torch")
        assert str(weights / WEIGHTS_FILE) in str(err.value)
