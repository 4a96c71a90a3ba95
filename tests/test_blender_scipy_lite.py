"""The numpy stand-in for SciPy that the extension's vendored ``core`` uses (Blender has no
SciPy; bundling it would break the 60 MB zip budget) gives SciPy's answers."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from s2am3d_blender import scipy_lite as sl


def _surface_points(n, seed):
    """Points on the surface of a box plus a far cluster (uneven density, like sampled parts)."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(-1, 1, (n, 3)) * [1.0, 0.5, 0.2]
    axis = rng.integers(0, 3, n)
    p[np.arange(n), axis] = np.sign(p[np.arange(n), axis]) * [1.0, 0.5, 0.2][0]
    p[: n // 10] = rng.normal(size=(n // 10, 3)) * 0.01 + [5, 0, 0]
    return p


@pytest.mark.parametrize("dense", [True, False])  # dense cell table / sorted cell keys
@pytest.mark.parametrize("n,nq,k", [(50, 30, 1), (3000, 5000, 1), (3000, 4000, 4), (800, 3, 9)])
def test_knn_matches_scipy(n, nq, k, dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(sl, "DENSE_CELLS", 0)
    pts = _surface_points(n, 0)
    rng = np.random.default_rng(1)
    q = np.concatenate([_surface_points(nq, 2)[: nq - 2], [[40.0, 40, 40], [-3, 2, 1]]])
    q += rng.normal(size=q.shape) * 0.01
    d_ref, i_ref = cKDTree(pts).query(q, k=k)
    d, i = sl.cKDTree(pts).query(q, k=k, workers=-1)
    assert d.shape == d_ref.shape and i.shape == i_ref.shape
    np.testing.assert_allclose(d, d_ref, rtol=1e-12, atol=1e-12)
    assert (i == i_ref).mean() > 0.999  # equal up to exact distance ties
    np.testing.assert_allclose(np.linalg.norm(q[:, None] - pts[i.reshape(len(q), -1)], axis=-1)
                               .reshape(d.shape), d, rtol=1e-9)


def test_knn_single_query_and_k_above_n():
    pts = _surface_points(20, 3)
    d, i = sl.cKDTree(pts).query(pts[4])
    assert i == 4 and d == 0.0 and np.ndim(d) == 0
    d, i = sl.cKDTree(pts[:3]).query(pts[:2], k=5)
    d_ref, i_ref = cKDTree(pts[:3]).query(pts[:2], k=5)
    assert np.array_equal(i, i_ref) and np.array_equal(np.isinf(d), np.isinf(d_ref))


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("r", [0.0, 1e-9, 0.03, 0.2])
def test_query_pairs_matches_scipy(r, dense, monkeypatch):
    if not dense:
        monkeypatch.setattr(sl, "DENSE_CELLS", 0)
    pts = _surface_points(2500, 4)
    pts = np.concatenate([pts, pts[:200] + 1e-12])  # coincident vertices, as in a weld
    ref = cKDTree(pts).query_pairs(r, output_type="ndarray")
    got = sl.cKDTree(pts).query_pairs(r, output_type="ndarray")
    assert {tuple(p) for p in ref.tolist()} == {tuple(p) for p in got.tolist()}
    assert len(got) == len(ref) and (got[:, 0] < got[:, 1]).all()


def test_connected_components_numbered_like_scipy():
    rng = np.random.default_rng(5)
    n = 3000
    a, b = rng.integers(0, n, 1800), rng.integers(0, n, 1800)
    g_ref = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    g = sl.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    n_ref, lab_ref = connected_components(g_ref, directed=False)
    n_got, lab = sl.connected_components(g, directed=False)
    assert n_got == n_ref and np.array_equal(lab, lab_ref)


def test_dijkstra_from_several_sources_matches_scipy():
    """The point-cloud growth's path costs (k-NN graph, several clicks, islands)."""
    from scipy.sparse.csgraph import dijkstra

    pts = _surface_points(1500, 3)
    _, nb = cKDTree(pts).query(pts, 9)
    rows = np.repeat(np.arange(len(pts)), 8)
    cols = nb[:, 1:].ravel()
    w = np.random.default_rng(0).random(len(rows)) + 1e-9
    src = np.array([0, 700, 1400])
    want = dijkstra(sp.csr_matrix((w, (rows, cols)), shape=(1500, 1500)), directed=False,
                    indices=src, min_only=True)
    got = sl.dijkstra(sl.csr_matrix((w, (rows, cols)), shape=(1500, 1500)), directed=False,
                      indices=src, min_only=True)
    assert np.isinf(want).sum() == np.isinf(got).sum()  # the far cluster, if unreached
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-12, atol=1e-12)
    assert (got[src] == 0).all()


def test_sparse_calls_of_core_match_scipy():
    rng = np.random.default_rng(6)
    r, c = rng.integers(0, 40, 500), rng.integers(0, 25, 500)
    w = rng.random(500)
    ref = sp.coo_matrix((w, (r, c)), shape=(40, 25)).tocsr()
    ref.sum_duplicates()
    got = sl.coo_matrix((w, (r, c)), shape=(40, 25)).tocsr()
    got.sum_duplicates()
    assert np.array_equal(got.indptr, ref.indptr) and np.array_equal(got.indices, ref.indices)
    np.testing.assert_allclose(got.data, ref.data)
    row_ref, row = ref.getrow(7), got.getrow(7)
    assert np.array_equal(row.indices, row_ref.indices)
    np.testing.assert_allclose(row.data, row_ref.data)
    coo_ref, coo = ref.tocoo(), got.tocoo()
    assert np.array_equal(coo.row, coo_ref.row) and np.array_equal(coo.col, coo_ref.col)
    # one-hot counts and coverage products (Segment All's merge step)
    lab = rng.integers(0, 9, 300)
    oh_ref = sp.csr_matrix((np.ones(300, np.float32), (np.arange(300), lab)), shape=(300, 9))
    oh = sl.csr_matrix((np.ones(300, np.float32), (np.arange(300), lab)), shape=(300, 9))
    np.testing.assert_allclose(np.asarray(oh.sum(axis=0)).ravel(),
                               np.asarray(oh_ref.sum(axis=0)).ravel())
    masks = (rng.random((300, 12)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(np.asarray(oh.T @ masks), np.asarray(oh_ref.T @ masks), rtol=1e-6)
    # the bipartite face-vertex graph of face_components
    inc_ref = sp.csr_matrix((np.ones(60), (np.repeat(np.arange(20), 3), rng.integers(0, 30, 60))),
                            shape=(20, 30))
    inc = sl.csr_matrix((inc_ref.tocoo().data, (inc_ref.tocoo().row, inc_ref.tocoo().col)),
                        shape=(20, 30))
    big_ref = sp.bmat([[None, inc_ref], [inc_ref.T, None]], format="csr")
    big = sl.bmat([[None, inc], [inc.T, None]], format="csr")
    assert np.array_equal(big.toarray(), big_ref.toarray())
    assert np.array_equal(sl.connected_components(big)[1], connected_components(big_ref)[1])


def test_cdist_matches_scipy():
    a, b = _surface_points(7, 8), _surface_points(900, 9)
    np.testing.assert_allclose(sl.cdist(a, b), cdist(a, b), rtol=1e-12, atol=1e-15)


def test_vendored_core_segments_like_core_with_scipy(tmp_path, monkeypatch):
    """End to end: the copy of ``core`` that build.py vendors (SciPy imports rewritten to
    the stand-in) gives the repository's ``core`` (real SciPy) labels on a multi-part mesh."""
    import importlib
    import sys
    from pathlib import Path

    import build
    import core

    sys.path.insert(0, str(Path(build.REPO) / "scripts"))
    import sample_meshes

    dest = tmp_path / "vpkg" / "_vendor" / build.VENDOR_NAME
    build.vendor_core(dest)
    (tmp_path / "vpkg" / "__init__.py").write_text("")
    text = "\n".join(p.read_text() for p in dest.rglob("*.py") if p.name != "_scipy_lite.py")
    assert not re.search(r"^\s*(import|from) scipy\b", text, flags=re.M)
    monkeypatch.syspath_prepend(str(tmp_path))
    vcore = importlib.import_module(f"vpkg._vendor.{build.VENDOR_NAME}")
    v, quads, _ = sample_meshes.table()
    tris = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]])
    weights = str(build.WEIGHTS_SRC)
    out = []
    for mod in (core, vcore):
        seg = mod.Segmenter.from_pretrained(path=weights, backend="onnx", num_threads=1)
        seg.set_mesh(v, tris, n_points=2048, seed=0)
        click = seg.predict(prompts=[(5, True)], scale=0.2)
        res = seg.segment_all(scale=0.2)
        seg.set_points(seg.points, n_points=None)  # the same samples as a point cloud
        pts = seg.segment_all()  # its merge tree (core.point_tree)
        out.append((np.asarray(click.face_mask), np.asarray(res.face_labels), res.num_parts,
                    np.asarray(pts.point_labels)))
        assert any("_scipy_lite" in m for m in sys.modules) or mod is core
    (m0, f0, n0, p0), (m1, f1, n1, p1) = out
    assert np.array_equal(m0, m1)
    assert n0 == n1 and np.array_equal(f0, f1)
    assert np.array_equal(p0, p1) and len(np.unique(p0)) > 1


def test_vendored_core_cuts_a_one_piece_mesh_at_its_neck(tmp_path, monkeypatch):
    """A smooth one-piece mesh is split into chunks and takes the randomized-cuts consensus
    (``core.consensus``: eigendecompositions and Ward trees in numpy). Blender's copy of
    ``core`` gives the repository's labels on it, face for face, and cuts a dumbbell
    between its lobes."""
    import importlib

    from test_core_part_count import dumbbell

    import build
    import core

    dest = tmp_path / "vpkg" / "_vendor" / build.VENDOR_NAME
    build.vendor_core(dest)
    (tmp_path / "vpkg" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    vcore = importlib.import_module(f"vpkg._vendor.{build.VENDOR_NAME}")
    v, f = dumbbell()  # a neck at x = 0
    labels = []
    for mod in (core, vcore):
        seg = mod.Segmenter.from_pretrained(path=str(build.WEIGHTS_SRC), backend="onnx",
                                            num_threads=1)
        seg.set_mesh(v, f, n_points=2048, seed=0)
        assert seg.mesh_parts().tree.one_piece
        labels.append(np.asarray(seg.segment_all().face_labels))
    lab = labels[1]
    assert np.array_equal(labels[0], lab)
    x = v[f].mean(axis=1)[:, 0]
    assert len(np.unique(lab)) > 1
    assert not set(lab[x < -0.3].tolist()) & set(lab[x > 0.3].tolist())  # no part on both
