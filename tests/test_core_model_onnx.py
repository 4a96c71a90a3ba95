"""ONNX export and the two backends: parity, file checks, backend choice, torch-free import."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from core.anchors import prepare_anchors  # noqa: E402
from core.backends import (  # noqa: E402
    ONNX_FILES,
    OnnxBackend,
    TorchBackend,
    load_backend,
)
from core.checkpoint import DEFAULT_WEIGHTS, save_checkpoint  # noqa: E402
from core.config import ModelConfig  # noqa: E402
from core.errors import InvalidPromptError, ModelFileError  # noqa: E402
from core.export import export_onnx  # noqa: E402
from core.modeling import PartEncoder, ScaleAwareDecoder  # noqa: E402

torch.set_num_threads(1)
TOL = 1e-4


def _clustered(n: int, seed: int) -> np.ndarray:
    """2,000 points inside one voxel / plane cell, the rest spread over the box."""
    rng = np.random.default_rng(seed)
    spread = rng.random((n - 2000, 3)) * 2 - 1
    cluster = 0.3 + rng.random((2000, 3)) * 0.01
    return np.concatenate([cluster, spread]).astype(np.float32)


def _most_per_cell(xyz: np.ndarray, cfg: ModelConfig) -> tuple[int, int]:
    """Largest number of points sharing one voxel, and one cell of the xy plane.

    Same cell rule as the encoder's scatter (cell i covers [-1 + 2i/R, -1 + 2(i+1)/R)).
    """
    def cells(r: int) -> np.ndarray:
        return np.clip(np.floor((xyz.astype(np.float64) + 1.0) * 0.5 * r), 0, r - 1).astype(int)

    v = cells(cfg.voxel_resolution)
    p = cells(cfg.plane_resolution)
    voxel = np.unique(v, axis=0, return_counts=True)[1].max()
    plane = np.unique(p[:, :2], axis=0, return_counts=True)[1].max()
    return int(voxel), int(plane)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Default-sized model with non-zero FiLM (as after training), saved and exported."""
    cfg = ModelConfig()
    torch.manual_seed(0)
    enc, dec = PartEncoder(cfg), ScaleAwareDecoder(cfg)
    with torch.no_grad():
        for film in [*dec.films, dec.point_film]:
            film.proj.weight.normal_(std=0.3)
    d = tmp_path_factory.mktemp("weights")
    save_checkpoint(d, enc, dec, cfg, {"trained": False, "notes": "test"})
    export_onnx(d, d)
    return d


@pytest.fixture(scope="module")
def backends(exported):
    return TorchBackend(exported, device="cpu"), OnnxBackend(exported, num_threads=1)


@pytest.mark.parametrize("n", [2600, 3500])
def test_onnx_matches_torch_on_crowded_voxels(backends, n):
    tb, ob = backends
    xyz = _clustered(n, seed=n)
    assert min(_most_per_cell(xyz, tb.config)) >= 2000  # the crowding the scatter must sum
    graph = prepare_anchors(xyz, tb.config.num_anchors, tb.config.knn_k, 0)
    f_t, f_o = tb.encode(xyz), ob.encode(xyz)
    assert f_o.shape == (n, tb.config.feature_dim)
    np.testing.assert_allclose(f_o, f_t, atol=TOL, rtol=TOL)
    idx = np.array([[5, 2100, 7], [9, 0, 0], [2500, 1, 0]])
    lab = np.array([[1, 0, 1], [1, -1, -1], [1, 0, -1]], np.float32)
    for scale in (None, 0.05, 0.6):
        c_t, c_o = tb.condition(f_t, xyz, graph, scale), ob.condition(f_t, xyz, graph, scale)
        np.testing.assert_allclose(c_o.cond, c_t.cond, atol=TOL, rtol=TOL)
        p_t, q_t = tb.decode(c_t, idx, lab)
        p_o, q_o = ob.decode(c_t, idx, lab)
        assert p_o.shape == (3, n) and q_o.shape == (3,)
        assert ((p_o >= 0) & (p_o <= 1)).all()
        np.testing.assert_allclose(p_o, p_t, atol=TOL)
        np.testing.assert_allclose(q_o, q_t, atol=TOL)
        _assert_same_masks(p_o, p_t)
    many = np.arange(0, n, n // 16)[:16, None]
    p_t, _ = tb.decode(c_t, many, np.ones(many.shape, np.float32))
    p_o, _ = ob.decode(c_t, many, np.ones(many.shape, np.float32))
    np.testing.assert_allclose(p_o, p_t, atol=TOL)


def _assert_same_masks(p_a: np.ndarray, p_b: np.ndarray, threshold: float = 0.5) -> None:
    """Thresholded masks agree wherever the probabilities are not within TOL of the cut."""
    clear = np.abs(p_b - threshold) > TOL
    assert ((p_a >= threshold) == (p_b >= threshold))[clear].all()
    assert clear.mean() > 0.99


def test_segmenter_end_to_end_same_on_both_backends(exported):
    """Mesh → points → features → masks → face labels: ORT and torch give the same answer.

    Three boxes sampled with 4,000 points: dozens of points share each voxel and each
    plane cell, the case where a lossy scatter export would diverge.
    """
    from core_infer_fake import boxes

    from core import Segmenter

    segs = [Segmenter(TorchBackend(exported, device="cpu")),
            Segmenter(OnnxBackend(exported, num_threads=1))]
    v, f, _ = boxes([(0, 0, 0), (3, 0, 0), (6, 0, 0)], subdivide=1)
    for s in segs:
        s.set_mesh(v, f, n_points=4000, seed=0)
    t, o = segs
    np.testing.assert_array_equal(o.points, t.points)
    assert min(_most_per_cell(t.points_normalized, t.config)) >= 20
    np.testing.assert_allclose(o.features, t.features, atol=TOL, rtol=TOL)
    for scale in (None, 0.3):  # meshes: the merge tree over the same features
        a_t, a_o = t.segment_all(scale=scale), o.segment_all(scale=scale)
        assert (a_t.face_labels >= 0).all() and a_t.face_labels.shape == (len(f),)
        np.testing.assert_array_equal(a_o.face_labels, a_t.face_labels)
    for s in segs:  # the decoder itself answers clicks on point clouds
        s.set_points(t.points.copy())
    pos, neg = t.nearest_point([0.5, 0.0, 0.0]), t.nearest_point([3.0, 0.5, 0.0])
    for scale in (None, 0.1, 0.4):
        r_t = t.predict([(pos, True), (neg, False)], scale=scale)
        r_o = o.predict([(pos, True), (neg, False)], scale=scale)
        np.testing.assert_allclose(r_o.point_probs, r_t.point_probs, atol=TOL)
        assert abs(r_o.quality - r_t.quality) < TOL
        _assert_same_masks(r_o.point_probs, r_t.point_probs)


def test_scale_reaches_the_onnx_output(backends):
    _, ob = backends
    xyz = _clustered(2500, 1)
    graph = prepare_anchors(xyz, 512, 3, 0)
    f = ob.encode(xyz)
    prompt = (np.array([[100]]), np.ones((1, 1), np.float32))
    p1, _ = ob.decode(ob.condition(f, xyz, graph, 0.05), *prompt)
    p2, _ = ob.decode(ob.condition(f, xyz, graph, 0.8), *prompt)
    p3, _ = ob.decode(ob.condition(f, xyz, graph, None), *prompt)
    assert np.abs(p1 - p2).max() > 1e-3 and np.abs(p3 - p2).max() > 1e-3


def test_bundled_onnx_files_match_bundled_weights():
    ob = OnnxBackend(None, num_threads=1)  # raises if the ONNX files are stale
    tb = TorchBackend(None, device="cpu")
    assert ob.metadata["trained"] == tb.metadata["trained"]
    from core_infer_fake import boxes

    from core.geometry import normalize_points, sample_surface

    v, f, _ = boxes([(0, 0, 0), (3, 0, 0), (6, 0, 0)], subdivide=1)
    on_mesh = normalize_points(sample_surface(v, f, 10_000, seed=0)[0])  # a real use
    np.testing.assert_allclose(ob.encode(on_mesh), tb.encode(on_mesh), atol=TOL, rtol=TOL)
    xyz = _clustered(2300, 7)
    graph = prepare_anchors(xyz, tb.config.num_anchors, tb.config.knn_k, 0)
    f = tb.encode(xyz)
    np.testing.assert_allclose(ob.encode(xyz), f, atol=TOL, rtol=TOL)
    c = tb.condition(f, xyz, graph, 0.3)
    np.testing.assert_allclose(ob.condition(f, xyz, graph, 0.3).cond, c.cond, atol=TOL, rtol=TOL)
    idx, lab = np.array([[3, 2200]]), np.array([[1, 0]], np.float32)
    np.testing.assert_allclose(ob.decode(c, idx, lab)[0], tb.decode(c, idx, lab)[0], atol=TOL)


def test_group_norm_export_is_accurate_on_large_skewed_groups(tmp_path):
    """A group of 98,304 values, mostly one constant with a few large cells (an empty
    voxel grid after a convolution): ORT agrees with torch to 1e-5 (a one-pass float32
    InstanceNormalization was off by ~1e-3 on such groups)."""
    import onnxruntime as ort

    from core.modeling.layers import GroupNorm

    torch.manual_seed(0)
    gn = GroupNorm(8, 24).eval()
    with torch.no_grad():
        gn.weight.uniform_(0.5, 2.0)
        gn.bias.uniform_(-1.0, 1.0)
    x = torch.full((1, 24, 32, 32, 32), 0.15) + 0.001 * torch.randn(1, 24, 32, 32, 32)
    x[..., 10:12, 5:9, 20:30] += torch.randn(1, 24, 2, 4, 10)
    with torch.no_grad():
        want = gn(x)
        np.testing.assert_allclose(
            want.numpy(), torch.nn.functional.group_norm(x, 8, gn.weight, gn.bias).numpy())
        torch.onnx.export(gn, (x,), str(tmp_path / "gn.onnx"), opset_version=20, dynamo=False)
    sess = ort.InferenceSession(str(tmp_path / "gn.onnx"), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    assert np.abs(want.numpy()).max() > 10  # the few large cells stand far out
    np.testing.assert_allclose(got, want.numpy(), atol=1e-5, rtol=1e-5)


def test_thread_setting_reaches_onnxruntime(exported):
    ob = OnnxBackend(exported, num_threads=2)
    assert all(s.get_session_options().intra_op_num_threads == 2 for s in ob.sessions.values())


def test_bad_prompts_and_scales_are_refused(backends):
    _, ob = backends
    xyz = _clustered(2200, 3)
    graph = prepare_anchors(xyz, 64, 3, 0)
    c = ob.condition(ob.encode(xyz), xyz, graph, None)
    with pytest.raises(InvalidPromptError, match="out of range"):
        ob.decode(c, np.array([[2200]]), np.ones((1, 1), np.float32))
    with pytest.raises(InvalidPromptError, match="real"):
        ob.decode(c, np.array([[1]]), -np.ones((1, 1), np.float32))
    with pytest.raises(InvalidPromptError, match="scale"):
        ob.condition(ob.encode(xyz), xyz, graph, 1.5)


def test_stale_or_missing_onnx_files_are_refused(exported, tmp_path):
    d = tmp_path / "w"
    shutil.copytree(exported, d)
    torch.manual_seed(5)
    cfg = ModelConfig()
    save_checkpoint(d, PartEncoder(cfg), ScaleAwareDecoder(cfg), cfg, {"trained": True})
    with pytest.raises(ModelFileError, match="stale"):
        OnnxBackend(d)
    with pytest.raises(ModelFileError, match="stale"):
        load_backend(d)  # auto picks ONNX because the files exist, and refuses them
    (d / ONNX_FILES[1]).unlink()
    with pytest.raises(ModelFileError, match="missing"):
        OnnxBackend(d)
    assert load_backend(d).name == "torch"  # auto: no ONNX files, torch installed
    (d / ONNX_FILES[1]).write_bytes(b"not an onnx model")
    manifest = json.loads((exported / "onnx.json").read_text())
    from core.backends import weights_digest

    manifest["weights_sha256"] = weights_digest(d / "model.safetensors")
    (d / "onnx.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="cannot load ONNX model"):
        OnnxBackend(d)


def test_load_backend_choice(exported):
    assert load_backend(exported).name == "onnx"
    assert load_backend(exported, backend="torch").name == "torch"
    with pytest.raises(ValueError, match="backend must be"):
        load_backend(exported, backend="tensorflow")


def test_inference_without_torch(exported):
    """core imports and the ONNX backend runs when torch cannot be imported at all."""
    code = textwrap.dedent(
        f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")
        sys.meta_path.insert(0, Block())
        import numpy as np
        import core
        from core import load_backend, prepare_anchors
        for path in (None, {str(exported)!r}):
            b = load_backend(path)
            assert b.name == "onnx", b.name
            x = (np.random.default_rng(0).random((1500, 3)) * 2 - 1).astype(np.float32)
            f = b.encode(x)
            c = b.condition(f, x, prepare_anchors(x, 128, 3), 0.2)
            p, q = b.decode(c, np.array([[1, 2]]), np.array([[1, 0]], np.float32))
            assert p.shape == (1, 1500) and np.isfinite(p).all() and q.shape == (1,)
        assert "torch" not in sys.modules
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=DEFAULT_WEIGHTS.parents[2], timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_scale_independent_part_is_cached_per_object(exported):
    """A second scale reuses X0; new arrays (another object) are never served stale."""
    for make in (lambda: OnnxBackend(exported, num_threads=1),
                 lambda: TorchBackend(exported, device="cpu")):
        b = make()
        xyz1, xyz2 = _clustered(2100, 11), _clustered(2200, 12)
        g1, g2 = (prepare_anchors(x, 128, 3, 0) for x in (xyz1, xyz2))
        f1, f2 = b.encode(xyz1), b.encode(xyz2)
        b.condition(f1, xyz1, g1, 0.1)
        warm = b.condition(f1, xyz1, g1, 0.7).cond  # X0 from the cache
        other = b.condition(f2, xyz2, g2, 0.7).cond  # new object: recomputed
        fresh = make()
        np.testing.assert_allclose(warm, fresh.condition(f1, xyz1, g1, 0.7).cond, atol=1e-6)
        np.testing.assert_allclose(other, fresh.condition(f2, xyz2, g2, 0.7).cond, atol=1e-6)
