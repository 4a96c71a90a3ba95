"""Normals as an optional encoder input (ModelConfig.input_normals): the encoding ignores
the normals' sign, PCA normals of point clouds follow the surface, the ONNX backend matches
torch and the predictor runs end to end with such weights, and weights saved before the
option existed still load as xyz-only."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.backends import OnnxBackend, TorchBackend  # noqa: E402
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
from core.export import export_onnx  # noqa: E402
from core.modeling import PartEncoder, ScaleAwareDecoder  # noqa: E402
from core.modeling.encoder import normal_features  # noqa: E402
from core.normals import pca_normals, sample_normals  # noqa: E402
from core.predictor import Segmenter  # noqa: E402
from tests.core_infer_fake import boxes  # noqa: E402

torch.set_num_threads(1)

#: a small model (encoder and decoder) so export and inference take well under a second
SMALL = dict(
    input_freqs=2, point_dim=16, voxel_resolution=8, voxel_channels=8, voxel_convs=1,
    plane_resolution=16, plane_channels=16, plane_convs=1, token_resolution=4, token_dim=16,
    token_heads=2, feature_dim=16, decoder_dim=16, pos_freqs=2, num_anchors=32,
    modulator_layers=1, decoder_layers=1, num_heads=2, scale_freqs=8,
)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _points(rng: np.random.Generator, n: int) -> np.ndarray:
    return (rng.random((n, 3)) * 2 - 1).astype(np.float32)


@pytest.fixture(scope="module")
def normals_weights(tmp_path_factory):
    """Random small weights with input_normals, saved and exported to ONNX."""
    cfg = ModelConfig(**SMALL, input_normals=True)
    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("normals_weights")
    save_checkpoint(d, PartEncoder(cfg), ScaleAwareDecoder(cfg), cfg, {"trained": False})
    export_onnx(d, d)
    return d


# ----------------------------------------------------------------------------- encoder


def test_encoder_ignores_the_sign_of_normals_but_not_their_direction():
    torch.manual_seed(1)
    enc = PartEncoder(ModelConfig(**SMALL, input_normals=True)).eval()
    rng = np.random.default_rng(0)
    xyz = torch.from_numpy(_points(rng, 500))[None]
    nrm = torch.from_numpy(_unit(rng, 500))[None]
    flip = torch.from_numpy(np.where(rng.random((500, 1)) < 0.5, -1.0, 1.0).astype(np.float32))
    with torch.no_grad():
        base = enc(xyz, nrm)
        assert torch.allclose(enc(xyz, -nrm), base, atol=1e-6)  # every normal negated
        assert torch.allclose(enc(xyz, nrm * flip), base, atol=1e-6)  # inconsistent winding
        other = enc(xyz, torch.from_numpy(_unit(rng, 500))[None])
    assert (other - base).abs().max() > 1e-3
    with pytest.raises(ValueError, match="normals"):
        enc(xyz)


def test_unknown_normals_encode_as_zeros_and_length_does_not_matter():
    n = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 2.0], [1.0, 1.0, 0.0]])
    f = normal_features(n)
    assert torch.equal(f[0], torch.zeros(6))
    assert torch.allclose(f[1], torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0]))
    assert torch.allclose(f[2], torch.tensor([0.5, 0.5, 0.0, 0.5, 0.0, 0.0]))


# ----------------------------------------------------------------------------- PCA normals


def test_pca_normals_of_a_plane_and_a_sphere():
    rng = np.random.default_rng(2)
    uv = rng.random((2000, 2)) * 4 - 2
    plane = np.stack([uv[:, 0], uv[:, 1], 0.3 * uv[:, 0] - 0.2 * uv[:, 1] + 1.0], axis=1)
    want = np.array([-0.3, 0.2, 1.0]) / np.linalg.norm([-0.3, 0.2, 1.0])
    got = pca_normals(plane)
    assert got.shape == (2000, 3) and got.dtype == np.float32
    assert (np.abs(got @ want) > 0.95).all()

    sphere = _unit(rng, 3000).astype(np.float64) * 5.0 + np.array([1.0, -2.0, 3.0])
    got = pca_normals(sphere)
    radial = (sphere - [1.0, -2.0, 3.0]) / 5.0
    assert (np.abs((got * radial).sum(axis=1)) > 0.95).all()


def test_pca_normals_are_unknown_where_no_plane_is_defined():
    line = np.linspace(0, 1, 50)[:, None] * np.array([[1.0, 2.0, 3.0]])
    assert not pca_normals(line).any()
    assert not pca_normals(np.zeros((2, 3))).any()


def test_mesh_samples_get_the_normal_of_their_face():
    v, f, _ = boxes([(0, 0, 0)])
    pf = np.arange(len(f))
    got = sample_normals(v, f, pf)
    axis = np.argmax(np.abs(got), axis=1)
    assert np.allclose(np.abs(got[np.arange(len(f)), axis]), 1.0)
    centroid_offset = v[f].mean(axis=1)  # a unit box at the origin: the face's side
    assert np.allclose(np.abs(centroid_offset[np.arange(len(f)), axis]), 0.5)


# ----------------------------------------------------------------------------- backends


def test_onnx_encoder_with_normals_matches_torch(normals_weights):
    tb = TorchBackend(normals_weights, device="cpu")
    ob = OnnxBackend(normals_weights, num_threads=1)
    inputs = [i.name for i in ob.sessions["encoder.onnx"].get_inputs()]
    assert inputs == ["xyz", "normals"]
    rng = np.random.default_rng(3)
    for n in (700, 1900):
        xyz, nrm = _points(rng, n), _unit(rng, n)
        a, b = tb.encode(xyz, nrm), ob.encode(xyz, nrm)
        assert a.shape == (n, 16) and np.abs(a - b).max() < 1e-4
        assert np.abs(ob.encode(xyz, _unit(rng, n)) - b).max() > 1e-3  # normals are used
        assert np.allclose(ob.encode(xyz, -nrm), b, atol=1e-5)
    # no normals given: PCA normals of the points
    assert np.allclose(ob.encode(xyz), ob.encode(xyz, pca_normals(xyz)), atol=1e-6)


def test_xyz_only_weights_keep_one_encoder_input_and_ignore_normals(tmp_path):
    cfg = ModelConfig(**SMALL)
    torch.manual_seed(0)
    save_checkpoint(tmp_path, PartEncoder(cfg), ScaleAwareDecoder(cfg), cfg, {"trained": False})
    export_onnx(tmp_path, tmp_path)
    ob = OnnxBackend(tmp_path, num_threads=1)
    assert [i.name for i in ob.sessions["encoder.onnx"].get_inputs()] == ["xyz"]
    xyz = _points(np.random.default_rng(4), 600)
    assert np.array_equal(ob.encode(xyz), ob.encode(xyz, _unit(np.random.default_rng(5), 600)))


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_segmenter_runs_end_to_end_with_normal_weights(normals_weights, backend):
    seg = Segmenter.from_pretrained(str(normals_weights), backend=backend, num_threads=1)
    assert seg.config.input_normals
    v, f, _ = boxes([(0, 0, 0), (1.5, 0, 0)], subdivide=1)
    seg.set_mesh(v, f, n_points=800)
    want = seg.backend.encode(seg.points_normalized, sample_normals(v, f, seg.point_faces))
    assert np.allclose(seg.features, want, atol=1e-6)  # each sample: its face's normal
    r = seg.predict([(0, True)], scale=0.3)
    assert r.face_mask.shape == (len(f),) and r.face_mask.any()

    pts = np.random.default_rng(6).normal(size=(900, 3))
    seg.set_points(pts)
    xyz = seg.points_normalized
    assert np.allclose(seg.features, seg.backend.encode(xyz, pca_normals(xyz)), atol=1e-6)
    r = seg.predict([(0, True)], scale=0.3)
    assert r.point_probs.shape == (900,) and np.isfinite(r.point_probs).all()


# ----------------------------------------------------------------------------- old files


def test_weights_from_before_the_option_load_as_xyz_only(tmp_path):
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        shutil.copyfile(DEFAULT_WEIGHTS / name, tmp_path / name)
    doc = json.loads((tmp_path / CONFIG_FILE).read_text())
    doc["config"].pop("input_normals", None)
    (tmp_path / CONFIG_FILE).write_text(json.dumps(doc))
    ck = load_checkpoint(tmp_path)
    assert ck.config.input_normals is False
    enc, _ = build_modules(ck)  # the point MLP's input width is the xyz-only one
    xyz = torch.from_numpy(_points(np.random.default_rng(7), 300))[None]
    with torch.no_grad():
        assert enc(xyz).shape == (1, 300, ck.config.feature_dim)
    assert load_checkpoint(DEFAULT_WEIGHTS).config.input_normals is False


def test_input_normals_must_be_a_boolean():
    with pytest.raises(ModelFileError, match="input_normals"):
        ModelConfig.from_dict({"input_normals": 1})
    assert ModelConfig.from_dict({"input_normals": True}).input_normals is True
