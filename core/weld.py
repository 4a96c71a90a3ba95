"""Welding: which vertices of a mesh lie within a tolerance of each other (the vertex map
of :func:`core.geometry.weld_vertices`). Numpy + SciPy's ``cKDTree`` and
``connected_components`` (both in ``s2am3d_blender/scipy_lite.py``)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


def weld_map(vertices: np.ndarray, rel_tol: float = 1e-5) -> np.ndarray | None:
    """The vertex map of :func:`core.geometry.weld_vertices` (int64 (V,): each vertex's
    representative, the smallest index of its group), or None when no two vertices are
    within ``rel_tol`` × the bounding-box diagonal (nothing to weld)."""
    v = np.asarray(vertices, np.float64)
    diag = float(np.linalg.norm(v.max(axis=0) - v.min(axis=0))) if len(v) else 0.0
    tol = rel_tol * diag
    if tol <= 0.0 or len(v) < 2:
        return None
    near = _weld_candidates(v, tol)
    if near is None or 2 * len(near) > len(v):
        pairs = cKDTree(v).query_pairs(tol, output_type="ndarray")
    elif len(near) < 2:
        return None
    else:  # the same pairs, from the few vertices that can have a partner
        pairs = near[cKDTree(v[near]).query_pairs(tol, output_type="ndarray")]
    if len(pairs) == 0:
        return None
    g = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(v), len(v)))
    _, comp = connected_components(g, directed=False)
    # representative = smallest original index in each component
    rep = np.full(comp.max() + 1, len(v), dtype=np.int64)
    np.minimum.at(rep, comp, np.arange(len(v)))
    return rep[comp]


def _weld_candidates(v: np.ndarray, tol: float) -> np.ndarray | None:
    """Indices (ascending) of the vertices that may lie within ``tol`` of another one, or
    None where that cannot be told safely (coordinates far from the origin for ``tol``,
    or grids too fine for int64 keys).

    Four grids of cubic cells of side 5 ``tol``, shifted by quarter cells along the
    diagonal; a vertex is kept when it shares a cell of one of them with another vertex.
    Two vertices within ``tol`` share a cell of at least one grid: along each axis the
    grids' boundaries lie 1.25 ``tol`` apart, so the pair's span (at most ``tol``) meets
    the boundaries of at most one grid per axis, three grids in all. Real meshes keep a
    handful of vertices, so the exact pair search runs on those alone.
    """
    lo = v.min(axis=0)
    if float(np.abs(v).max()) * 1e-9 > tol:
        return None
    h = 5.0 * tol
    q = [(v[:, k] - lo[k]) / h for k in range(3)]  # cell coordinates, >= 0
    top = [int(np.floor(float(c.max()))) + 2 for c in q]
    if float(top[0]) * top[1] * top[2] >= 2.0 ** 62:
        return None
    near = np.zeros(len(v), bool)
    for s in range(4):
        key = np.zeros(len(v), np.int64)
        for k in range(3):
            key *= top[k]
            key += np.floor(q[k] + s / 4.0).astype(np.int64)
        srt = np.sort(key)
        dup = srt[1:][srt[1:] == srt[:-1]]  # cells holding two vertices or more
        if len(dup):
            near |= np.isin(key, dup)
    return np.flatnonzero(near)
