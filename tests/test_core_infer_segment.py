"""Predictor caching, Segment All and hierarchies (mesh and point-cloud paths).

The bundled weights (trained or not) drive the end-to-end tests; a geometric stand-in
backend (tests/core_infer_fake.py) drives the tests of the combination rules, whose
outcome must not depend on what the weights happen to have learned. The merge tree's own
rules are tested in tests/test_core_merge_tree.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from core_infer_fake import BallBackend, PartOracleBackend, boxes, make_segmenter, unweld

from core import SegmentAllSettings, Segmenter
from core.automatic import SegmentAllResult

THREE = [(0, 0, 0), (3, 0, 0), (6, 0, 0)]


@pytest.fixture(scope="module")
def real():
    return Segmenter.from_pretrained(num_threads=2)


def _nested(fine: SegmentAllResult, coarse: SegmentAllResult) -> bool:
    lab_f = fine.face_labels if fine.face_labels is not None else fine.point_labels
    lab_c = coarse.face_labels if coarse.face_labels is not None else coarse.point_labels
    pairs = np.unique(np.stack([lab_f, lab_c], 1), axis=0)
    return len(np.unique(pairs[:, 0])) == len(pairs)  # each fine part in one coarse part


# ----------------------------------------------------------------- bundled weights
def test_three_boxes_bundled_weights(real):
    v, f, owner = boxes(THREE, subdivide=1)
    v, f = unweld(v, f)  # separate triangles: the welding must reconnect each box
    real.set_mesh(v, f, n_points=2000, seed=0)
    res = real.segment_all(scale=1 / 3)
    assert res.face_labels.shape == (len(f),) and (res.face_labels >= 0).all()
    assert (res.point_labels >= 0).all() and res.point_labels.shape == (2000,)
    box_labels = [set(np.unique(res.face_labels[owner == b])) for b in range(3)]
    for a in range(3):
        for b in range(a + 1, 3):
            assert not box_labels[a] & box_labels[b], "two separate boxes share a label"
    assert res.num_parts == len(np.unique(res.face_labels)) == len(res.scores)
    # point labels agree with the faces they were sampled on
    assert (res.point_labels == res.face_labels[real.point_faces]).all()


def test_set_mesh_samples_like_sample_surface(monkeypatch):
    """The predictor validates and measures the mesh once; its points are exactly the
    documented area-weighted sample (core.geometry.sample_surface) for the same seed."""
    from core.geometry import sample_surface

    seg = make_segmenter(monkeypatch)
    v, f, _ = boxes(THREE, subdivide=1)
    seg.set_mesh(v, f, n_points=700, seed=5)
    pts, pf = sample_surface(v, f, 700, seed=5)
    np.testing.assert_array_equal(seg.points, pts)
    np.testing.assert_array_equal(seg.point_faces, pf)


def test_same_seed_same_result(real):
    v, f, _ = boxes(THREE)
    real.set_mesh(v, f, n_points=1500, seed=3)
    a = real.segment_all(scale=0.2)
    pa = real.predict([(10, True)], scale=0.2)
    real.set_mesh(v, f, n_points=1500, seed=3)
    b = real.segment_all(scale=0.2)
    pb = real.predict([(10, True)], scale=0.2)
    assert (a.face_labels == b.face_labels).all()
    np.testing.assert_array_equal(pa.point_probs, pb.point_probs)


def test_predict_bundled_weights_shapes(real):
    v, f, _ = boxes(THREE)
    real.set_mesh(v, f, n_points=1500)
    i = real.nearest_point([0.5, 0.0, 0.0])
    r = real.predict([(i, True), (real.nearest_point([6.0, 0, 0]), False)], scale=0.3)
    assert r.point_probs.shape == (1500,) and r.point_probs.dtype == np.float32
    assert ((r.point_probs >= 0) & (r.point_probs <= 1)).all()
    assert r.face_mask.shape == (len(f),) and 0.0 <= r.quality <= 1.0
    assert real.features.shape[0] == 1500


def test_hierarchy_nested_bundled_weights(real):
    v, f, _ = boxes(THREE, subdivide=1)
    real.set_mesh(v, f, n_points=1500)
    levels = real.hierarchy([0.05, 0.5, 0.2])
    assert [lv.scale for lv in levels] == [0.05, 0.5, 0.2]
    assert _nested(levels[2], levels[1]) and _nested(levels[0], levels[2])
    assert _nested(levels[0], levels[1])


def test_point_cloud_bundled_weights(real):
    v, f, _ = boxes(THREE)
    from core.geometry import sample_surface

    pts, _ = sample_surface(v, f, 3000, seed=1)
    real.set_points(pts, n_points=1200)
    assert real.point_faces is None and len(real.points) == 1200
    res = real.segment_all(scale=0.3)
    assert res.face_labels is None and (res.point_labels >= 0).all()
    assert res.input_labels.shape == (3000,) and (res.input_labels >= 0).all()
    assert real.predict([(0, True)]).face_mask is None


# ----------------------------------------------------------------- predictor caching
def test_click_reuses_encoder_and_condition(monkeypatch):
    """Point clouds: a click with a scale grows over the k-NN graph and Segment All cuts the
    point tree (no decoder call for either); a click without a scale only decodes once the
    no-scale conditioning is cached. Meshes never decode (the merge tree answers)."""
    seg = make_segmenter(monkeypatch)
    v, f, _ = boxes(THREE)
    seg.set_mesh(v, f, n_points=800)
    seg.predict([(0, True)], scale=0.2)
    seg.segment_all(scale=0.2)
    assert seg.backend.calls == {"encode": 1}
    pts = seg.points.copy()
    seg.set_points(pts)
    calls = seg.backend.calls
    calls.clear()
    calls["encode"] = 1
    seg.predict([(0, True)], scale=0.2)
    seg.predict([(5, True)], scale=0.4)
    assert calls == {"encode": 1}  # the growth answers clicks with a scale
    seg.predict([(0, True)])
    seg.predict([(5, True)])  # new click, no scale: decode only
    assert calls == {"encode": 1, "condition": 1, "decode": 2}
    seg.segment_all(scale=0.2)
    seg.segment_all()
    seg.hierarchy([0.1, 0.5])
    seg.predict([(7, True)])  # the no-scale conditioning is cached
    n_cond = calls["condition"]
    assert calls == {"encode": 1, "condition": 1, "decode": 3}
    seg.set_points(pts)  # a new object drops the cache
    seg.predict([(7, True)])
    assert calls["encode"] == 2 and calls["condition"] == n_cond + 1


# ----------------------------------------------------------------- mesh-aware rules
def test_settings_validation(monkeypatch):
    seg = make_segmenter(monkeypatch)
    v, f, _ = boxes(THREE)
    seg.set_mesh(v, f, n_points=500)
    from core.errors import InvalidPromptError

    with pytest.raises(InvalidPromptError, match="min_part_fraction"):
        seg.segment_all(settings=SegmentAllSettings(min_part_fraction=2.0))
    with pytest.raises(InvalidPromptError, match="min_part_fraction"):
        seg.count_parts(0.2, settings=SegmentAllSettings(min_part_fraction=-1.0))


def test_fake_backends_are_not_shipped():
    import core

    assert not hasattr(core, "BallBackend") and not hasattr(core, "PartOracleBackend")
    assert BallBackend.__module__ == PartOracleBackend.__module__ == "core_infer_fake"


TORCH_FREE_SCRIPT = """
import sys

# Blender's Python: numpy + onnxruntime (+ scipy); nothing else of the dev venv
BLOCKED = {"torch", "trimesh", "sklearn", "safetensors", "onnx", "tqdm", "matplotlib",
           "PIL", "pandas", "bpy", "core_infer_fake"}


class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(name + " is blocked in this test")


sys.meta_path.insert(0, Block())
import numpy as np

from core import Segmenter, SegmentAllSettings


def plate(x0, n=6):
    # a flat n x n grid of quads at x offset x0, z = 0: (V, 3), (F, 3)
    g = np.linspace(0.0, 1.0, n + 1)
    gx, gy = np.meshgrid(g + x0, g, indexing="ij")
    v = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], 1)
    i = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]).ravel()
    f = np.concatenate([np.stack([i, i + n + 1, i + 1], 1),
                        np.stack([i + 1, i + n + 1, i + n + 2], 1)])
    return v, f


(va, fa), (vb, fb) = plate(0.0), plate(2.0)
v, f = np.concatenate([va, vb]), np.concatenate([fa, fb + len(va)])
seg = Segmenter.from_pretrained(num_threads=1)
assert seg.backend.name == "onnx", seg.backend.name
seg.set_mesh(v, f, n_points=800)
pos, neg = seg.nearest_point([0.5, 0.5, 0.0]), seg.nearest_point([2.5, 0.5, 0.0])
r = seg.predict([(pos, True), (neg, False)], scale=0.3)
assert r.face_mask.shape == (len(f),) and r.point_probs.shape == (800,)
res = seg.segment_all(scale=0.5)
assert res.face_labels.shape == (len(f),) and (res.face_labels >= 0).all()
assert res.face_labels[0] != res.face_labels[-1]  # two separate plates, two parts
levels = seg.hierarchy([0.1, 0.5])
assert all((lv.face_labels >= 0).all() for lv in levels)
loaded = sorted(m for m in BLOCKED if m in sys.modules)
assert not loaded, loaded
third = {m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names)
third = {m for m in third if not m.startswith("_") and m.lower() not in ("cython", "cython_runtime")}
print("ok", sorted(third - {"core", "__main__"}))
"""


def test_inference_chain_runs_with_numpy_onnxruntime_scipy_only(repo_root):
    """Inside Blender there is no torch: import core, set_mesh → predict (positive and
    negative click) → segment_all → hierarchy run on ORT with torch and every other dev
    package blocked from import, and nothing beyond numpy, scipy and onnxruntime is
    loaded."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", TORCH_FREE_SCRIPT], cwd=repo_root,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok ['numpy', 'onnxruntime', 'scipy']", out.stdout


def test_scale_change_reruns_only_scale_dependent_onnx_graphs():
    """Counts ONNX Runtime session runs of the real backend on a point cloud: the encoder and the
    scale-independent decoder base run once per object; a new click runs only the prompt
    graph; a scale change runs the scale conditioning + the prompt graph."""
    from collections import Counter

    from core.backends import BASE_ONNX, CONDITION_ONNX, ENCODER_ONNX, PROMPT_ONNX

    seg = Segmenter.from_pretrained(backend="onnx", num_threads=1)
    runs: Counter = Counter()

    class Counted:
        def __init__(self, name, sess):
            self.name, self.sess = name, sess

        def run(self, *a, **k):
            runs[self.name] += 1
            return self.sess.run(*a, **k)

    sessions = seg.backend.sessions
    for name in list(sessions):
        sessions[name] = Counted(name, sessions[name])
    v, f, _ = boxes(THREE)
    from core.geometry import sample_surface

    pts, _ = sample_surface(v, f, 1000, seed=0)
    seg.set_points(pts)  # point clouds decode; meshes are answered by the merge tree
    assert runs == {ENCODER_ONNX: 1}
    seg.predict([(3, True)], scale=0.2)  # clicks with a scale grow: no decoder graph
    assert runs == {ENCODER_ONNX: 1}

    def decode(clicks, scale):  # the decoder's masks (Segment All decodes this way)
        idx = np.array([[i for i, _ in clicks]], np.int64)
        lab = np.array([[float(p) for _, p in clicks]], np.float32)
        seg.decode(idx, lab, scale)

    decode([(3, True)], 0.2)
    assert runs == {ENCODER_ONNX: 1, BASE_ONNX: 1, CONDITION_ONNX: 1, PROMPT_ONNX: 1}
    decode([(40, True), (700, False)], 0.2)  # new clicks, same scale
    assert runs == {ENCODER_ONNX: 1, BASE_ONNX: 1, CONDITION_ONNX: 1, PROMPT_ONNX: 2}
    decode([(40, True)], 0.6)  # scale change
    assert runs == {ENCODER_ONNX: 1, BASE_ONNX: 1, CONDITION_ONNX: 2, PROMPT_ONNX: 3}
    seg.predict([(40, True)], scale=None)  # the no-scale mode is one more "scale"
    assert runs == {ENCODER_ONNX: 1, BASE_ONNX: 1, CONDITION_ONNX: 3, PROMPT_ONNX: 4}



def test_inputs_are_never_modified(monkeypatch):
    """set_mesh / predict / segment_all / hierarchy leave the caller's arrays as they were,
    and later edits of those arrays do not leak into the cached object."""
    seg = make_segmenter(monkeypatch, quality=0.95)
    v, f, owner = boxes(THREE, subdivide=1)
    v, f = np.ascontiguousarray(v), np.ascontiguousarray(f)
    groups = owner.copy()
    v0, f0, g0 = v.copy(), f.copy(), groups.copy()
    seg.set_mesh(v, f, n_points=1200, face_groups=groups)
    seg.predict([(0, True), (5, False)], scale=0.2)
    first = seg.segment_all(scale=0.3)
    seg.hierarchy([0.1, 0.3])
    np.testing.assert_array_equal(v, v0)
    np.testing.assert_array_equal(f, f0)
    np.testing.assert_array_equal(groups, g0)
    v *= 100.0
    f[:] = 0
    groups[:] = 7
    again = seg.segment_all(scale=0.3)
    np.testing.assert_array_equal(again.face_labels, first.face_labels)
    pts = np.random.default_rng(0).random((500, 3))
    p0 = pts.copy()
    seg.set_points(pts)
    seg.segment_all(scale=0.3)
    np.testing.assert_array_equal(pts, p0)


def test_tiny_unsampled_pieces_join_the_nearest_part(monkeypatch):
    """Twenty tiny separate bolts next to two boxes do not become twenty parts."""
    seg = make_segmenter(monkeypatch, quality=0.0)
    big_v, big_f, _ = boxes([(0, 0, 0), (3, 0, 0)])
    bolts = [(0.6, 0.1 * i - 1.0, 0.0) for i in range(20)]  # against the side of box 0
    bv, bf, _ = boxes(bolts, extents=(0.003, 0.003, 0.003))
    v = np.concatenate([big_v, bv])
    f = np.concatenate([big_f, bf + len(big_v)])
    seg.set_mesh(v, f, n_points=500)
    assert not np.isin(seg.point_faces, np.arange(len(big_f), len(f))).any()  # unsampled
    res = seg.segment_all()
    assert res.num_parts == 2
    assert (res.face_labels[len(big_f):] == res.face_labels[0]).all()  # joined box 0



