"""The tree build's fast paths give the bits of the plain paths they shortcut: edge geometry
read off the adjacency's corners, union-find over live edges, the packed-key sort, the
weld's candidate grids, the written-out cross product and row sums, features pooled row
by row (core/creases.py, core/mesh_graph.py, core/weld.py, core/geometry.py,
core/orientation.py, core/superfaces.py).
``scripts/tree_build_equality.py`` compares whole builds with a git revision."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
import trimesh
from scipy.sparse.csgraph import connected_components

from core import geometry, mesh_graph, weld
from core.creases import edge_geometry
from core.mesh_regions import MeshStructure
from core.orientation import _sort_order


def _messy_meshes():
    """Double-sided randomly flipped copies, degenerate faces, exact duplicates,
    non-manifold fins, and a random triangle soup."""
    rng = np.random.default_rng(0)
    box = trimesh.creation.box(extents=(1, 2, 0.5)).subdivide().subdivide()
    v, f = np.asarray(box.vertices), np.asarray(box.faces)
    flip = rng.random(len(f)) < 0.5
    f1 = np.where(flip[:, None], f[:, ::-1], f)
    yield v, np.concatenate([f1, f1[:, ::-1]])[rng.permutation(2 * len(f))]
    degenerate = np.stack([f[:20, 0], f[:20, 0], f[:20, 1]], axis=1)
    fins = np.concatenate([f[:30, :2], rng.integers(0, len(v), (30, 1))], axis=1)
    yield v, np.concatenate([f, degenerate, f[:15], fins])
    yield rng.random((40, 3)), rng.integers(0, 40, (300, 3))


def test_edge_geometry_from_corners_is_the_corner_comparison():
    for v, f in _messy_meshes():
        ms = MeshStructure.build(v, f)
        assert ms.adjacency_corners is not None
        fast = edge_geometry(ms)
        plain = edge_geometry(dataclasses.replace(ms, adjacency_corners=None))
        for name in ("angle", "signed", "consistent", "nonmanifold"):
            a, b = getattr(fast, name), getattr(plain, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


def test_adjacency_corners_name_the_shared_edge():
    for v, f in _messy_meshes():
        ms = MeshStructure.build(v, f)
        wf, (a, b) = ms.welded_faces, ms.adjacency.T
        ca, cb = ms.adjacency_corners // 3, ms.adjacency_corners % 3
        ea = np.sort(np.stack([wf[a, ca], wf[a, (ca + 1) % 3]], axis=1), axis=1)
        eb = np.sort(np.stack([wf[b, cb], wf[b, (cb + 1) % 3]], axis=1), axis=1)
        assert np.array_equal(ea, eb)


def test_components_over_few_live_edges_are_scipys(monkeypatch):
    rng = np.random.default_rng(1)
    monkeypatch.setattr(mesh_graph, "CHUNK", 7)
    monkeypatch.setattr(mesh_graph, "SCIPY_EDGES", -1)  # the union-find, not SciPy
    for live in (0, 5, 10**6):  # never / sometimes / always kept as a list
        monkeypatch.setattr(mesh_graph, "LIVE_EDGES", live)
        for n, e in [(1, 0), (60, 40), (500, 450), (500, 3000)]:
            pairs = rng.integers(0, n, (e, 2)).astype(np.int32)
            mask = rng.random(e) < 0.8
            kept = pairs[mask]
            g = sp.coo_matrix((np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(n, n))
            want = connected_components(g, directed=False)[1]
            assert np.array_equal(mesh_graph.components(n, pairs, mask), want)


def test_packed_sort_is_the_stable_argsort():
    rng = np.random.default_rng(2)
    for n, top in [(1, 5), (1000, 7), (1000, 10**6), (5000, 2**40)]:
        key = rng.integers(0, top, n).astype(np.int64) + 3
        order, k = mesh_graph._stable_order(key, 3, top)
        want = np.argsort(key, kind="stable")
        assert np.array_equal(order, want) and np.array_equal(k, key[want])
    key = rng.integers(0, 2**60, 100)  # too wide to pack: the stable argsort itself
    assert np.array_equal(mesh_graph._stable_order(key, 0, 2**60)[0],
                          np.argsort(key, kind="stable"))


def test_sheet_order_is_the_lexsort_of_sorted_corners():
    rng = np.random.default_rng(3)
    f = rng.integers(0, 30, (400, 3))
    f = np.concatenate([f, f[:100, ::-1], f[:50]]).astype(np.int32)
    srt = np.sort(f, axis=1)
    want = np.lexsort((srt[:, 2], srt[:, 1], srt[:, 0]))
    order, new = _sort_order(f)
    s = srt[want]
    assert np.array_equal(order, want)
    assert np.array_equal(new, np.r_[True, (s[1:] != s[:-1]).any(axis=1)])


def test_weld_candidates_keep_every_pair(monkeypatch):
    rng = np.random.default_rng(4)
    cases = []
    for scale, shift in [(1.0, 0.0), (1e-3, 5.0), (1e3, -1e3)]:
        v = rng.random((2000, 3)) * scale + shift
        tol = 1e-5 * float(np.linalg.norm(v.max(0) - v.min(0)))
        src = rng.integers(0, len(v), 300)
        d = rng.standard_normal((300, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        dist = tol * rng.choice([0.0, 0.5, 0.999999, 1.0, 1.000001, 1.5], 300)
        extra = v[src] + d * dist[:, None]
        extra[:100] = v[src[:100]]
        extra[:100, 0] += dist[:100]  # along an axis, exactly at the tolerance too
        cases.append(np.concatenate([v, extra]))
    got = [weld.weld_map(v) for v in cases]
    monkeypatch.setattr(weld, "_weld_candidates", lambda v, tol: None)  # full search
    for v, g in zip(cases, got):
        want = weld.weld_map(v)
        assert g is not None and np.array_equal(g, want)


def test_cross_rows_is_numpys_cross():
    rng = np.random.default_rng(6)
    for scale in (1e-6, 1.0, 1e6):
        b, e = rng.standard_normal((2, 1000, 3)) * scale
        assert np.array_equal(geometry.cross_rows(b, e), np.cross(b, e))


def test_features_pooled_row_by_row_are_add_at():
    from core.superfaces import _pooled

    rng = np.random.default_rng(7)
    f = (rng.standard_normal((3000, 16)) * 10.0 ** rng.integers(-8, 8, (3000, 16))).astype(
        np.float32)
    f[rng.random(f.shape) < 0.05] = -0.0
    for lab in (np.sort(rng.integers(0, 60, 3000)), rng.integers(0, 60, 3000)):
        lab[:5], f[:5] = 65, -0.0  # a superface of negative zeros only
        count = np.bincount(lab, minlength=70)  # some superfaces without points
        want = np.zeros((70, 16), np.float32)
        np.add.at(want, lab, f)
        want /= np.maximum(count, 1)[:, None].astype(np.float32)
        assert _pooled(f, lab, count).tobytes() == want.tobytes()


def test_row_sums_are_numpys():
    rng = np.random.default_rng(8)
    for n in (0, 1, 2, 7, 1000, 70_000):
        a, b = rng.standard_normal((2, n, 3)) * 10.0 ** rng.integers(-6, 6, (2, n, 3))
        assert geometry.row_dot(a, b).tobytes() == (a * b).sum(axis=1).tobytes()
        assert geometry.row_norm(a).tobytes() == np.linalg.norm(a, axis=1).tobytes()
        g = a[rng.permutation(n)]  # a gathered copy, as the callers pass
        assert geometry.row_dot(g, b).tobytes() == (g * b).sum(axis=1).tobytes()


def _nonmanifold_by_hand(key, pairs, sheet, surface):
    out = np.zeros(len(key), bool)
    for k in np.unique(key):
        rows = np.flatnonzero(key == k)
        kinds = {tuple(sorted(sheet[pairs[r]])) for r in rows if surface[r]}
        out[rows] = len(kinds) > 1
    return out


def test_nonmanifold_pairs_by_edge_runs():
    from core.orientation import nonmanifold_pairs

    rng = np.random.default_rng(9)
    pairs = rng.integers(0, 50, (400, 2))
    sheet = rng.integers(0, 30, 50)
    surface = rng.random(400) < 0.8
    for key in (np.sort(rng.integers(0, 150, 400)),  # shared edges
                np.arange(400) * 3,  # one pair per edge: the manifold shortcut
                rng.integers(0, 150, 400)):  # unsorted keys
        want = _nonmanifold_by_hand(key, pairs, sheet, surface)
        assert np.array_equal(nonmanifold_pairs(key, pairs, sheet, surface), want)
