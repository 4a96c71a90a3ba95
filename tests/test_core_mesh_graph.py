"""Bounded-memory graph helpers give the plain numpy/SciPy answers (core/mesh_graph.py,
core/orientation.py's chunked steps): chunk sizes never change a result."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from core import mesh_graph, orientation
from core.mesh_graph import components, dense_inverse, edge_adjacency


def test_components_are_numbered_like_scipy(monkeypatch):
    rng = np.random.default_rng(0)
    monkeypatch.setattr(mesh_graph, "CHUNK", 7)  # many chunks per round
    monkeypatch.setattr(mesh_graph, "SCIPY_EDGES", -1)  # the union-find, not SciPy
    for n, e in [(1, 0), (5, 0), (50, 30), (400, 350), (400, 2000)]:
        pairs = rng.integers(0, n, (e, 2)).astype(np.int32)
        mask = rng.random(e) < 0.7
        kept = pairs[mask]
        g = sp.coo_matrix((np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(n, n))
        want = connected_components(g, directed=False)[1]
        got = components(n, pairs, mask)
        assert got.dtype == np.int64 and np.array_equal(got, want)


def test_dense_inverse_is_numpy_unique_inverse():
    rng = np.random.default_rng(1)
    for lab in (rng.integers(0, 50, 300), rng.integers(0, 10**9, 300), np.array([3, -2, 3])):
        assert np.array_equal(dense_inverse(lab), np.unique(lab, return_inverse=True)[1])


def _plain_adjacency(f: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = f.astype(np.int64)
    n_v = int(f.max()) + 1
    nxt = np.roll(f, -1, axis=1)
    key = (np.minimum(f, nxt) * n_v + np.maximum(f, nxt)).ravel()
    order = np.argsort(key, kind="stable")
    k = key[order]
    same = np.flatnonzero(k[1:] == k[:-1])
    a, b, ek = order[same] // 3, order[same + 1] // 3, k[same]
    keep = a != b
    a, b, ek = a[keep], b[keep], ek[keep]
    return (np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1),
            np.linalg.norm(v[ek // n_v] - v[ek % n_v], axis=1))


def test_edge_adjacency_in_buckets_is_the_plain_sort():
    rng = np.random.default_rng(2)
    v = rng.random((60, 3))
    f = rng.integers(0, 60, (150, 3))
    f = np.concatenate([f, f[:40, ::-1], f[:10]])  # flipped copies, non-manifold chains
    want_pairs, want_len = _plain_adjacency(f, v)
    for chunk, bucket in [(1, 4), (7, 50), (1000, 1 << 21)]:
        pairs, length = edge_adjacency(f.astype(np.int32), v, chunk=chunk, bucket=bucket)
        assert np.array_equal(pairs, want_pairs) and np.array_equal(length, want_len)


def test_parity_forest_does_not_depend_on_the_chunk_size(monkeypatch):
    rng = np.random.default_rng(3)
    n, c = 300, 900
    u, v = rng.integers(0, n, c), rng.integers(0, n, c)
    odd = rng.random(c) < 0.5  # contradicting cycles: the first hooking must still win
    want = orientation.parity_forest(n, u, v, odd)
    monkeypatch.setattr(orientation, "CHUNK", 5)
    got = orientation.parity_forest(n, u, v, odd)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
