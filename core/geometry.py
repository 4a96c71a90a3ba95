"""Mesh and point-cloud geometry shared by inference, training and evaluation.

Pure numpy/scipy; no torch, no bpy. Conventions used throughout the project:

* ``vertices``: float array (V, 3) in the object's own frame (any unit).
* ``faces``: int array (F, 3) of triangle vertex indices (polygons fan-triangulated).
* ``points``: float array (N, 3). "Normalised" points live in the model frame: the
  axis-aligned bounding box is centred at the origin and scaled *uniformly* so that its
  longest side spans [-1, 1] (aspect ratio preserved).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .errors import InvalidInputError
from .weld import weld_map


@dataclass(frozen=True)
class Normalization:
    """The similarity transform from an object's frame to the model frame.

    ``model = (world - center) / half_extent``; ``half_extent`` is half the longest side of
    the bounding box, so the normalised box fits in [-1, 1]³.
    """

    center: np.ndarray
    half_extent: float

    def apply(self, xyz: np.ndarray) -> np.ndarray:
        """Map points (N, 3) from the object frame to the model frame (float32)."""
        return ((np.asarray(xyz, np.float64) - self.center) / self.half_extent).astype(np.float32)


def normalization_of(xyz: np.ndarray) -> Normalization:
    """Bounding-box normalisation of a point set (N, 3); raises on degenerate input."""
    xyz = np.asarray(xyz, np.float64)
    lo, hi = xyz.min(axis=0), xyz.max(axis=0)
    half = float((hi - lo).max()) / 2.0
    if not np.isfinite(half) or half <= 0.0:
        raise InvalidInputError("all points coincide: the object has zero size")
    return Normalization(center=(lo + hi) / 2.0, half_extent=half)


def normalize_points(xyz: np.ndarray) -> np.ndarray:
    """Return ``xyz`` (N, 3) mapped into the model frame [-1, 1]³ (see :class:`Normalization`)."""
    return normalization_of(xyz).apply(xyz)


#: Largest coordinate magnitude accepted. Past it float32 (what Blender stores and the
#: model runs in) has no usable precision, and such values are nearly always a typed "inf"
#: (Blender stores it as 3.4e38) or a stray vertex that would squash the object to a point.
MAX_COORDINATE = 1e12


def check_points(xyz: np.ndarray, what: str = "points") -> np.ndarray:
    """Validate a point array and return it as float64 (N, 3).

    Raises :class:`InvalidInputError` for a wrong shape, NaN/inf coordinates, coordinates
    beyond :data:`MAX_COORDINATE` in magnitude, or fewer than 3 distinct points.
    """
    arr = np.asarray(xyz)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise InvalidInputError(f"{what} must have shape (N, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{what} are empty: nothing to segment")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise InvalidInputError(
            f"{what} contain {int(bad.sum())} non-finite (NaN or inf) coordinates, "
            f"first at index {int(np.flatnonzero(bad)[0])}"
        )
    big = np.abs(arr).max(axis=1) > MAX_COORDINATE
    if big.any():
        first = int(np.flatnonzero(big)[0])
        raise InvalidInputError(
            f"{what} have {int(big.sum())} coordinates beyond {MAX_COORDINATE:.0e} (first at "
            f"index {first}: {np.abs(arr[first]).max():.3g}); a typed 'inf' or a stray "
            "vertex? move or delete it"
        )
    if not has_three_distinct(arr):
        raise InvalidInputError(f"{what} have fewer than 3 distinct positions")
    return arr


def has_three_distinct(xyz: np.ndarray) -> bool:
    """True when the (N, 3) array holds at least 3 distinct rows (O(N), no sort)."""
    arr = np.asarray(xyz)
    if len(arr) < 3:
        return False
    off0 = (arr != arr[0]).any(axis=1)
    if not off0.any():
        return False
    p1 = arr[int(np.argmax(off0))]
    return bool((off0 & (arr != p1).any(axis=1)).any())


def check_mesh(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a triangle mesh; return (vertices float64 (V,3), faces int64 (F,3)).

    Raises :class:`InvalidInputError` naming the problem: bad shapes, no faces, indices out
    of range, non-finite vertices, or zero total surface area.
    """
    v, f, _ = check_mesh_areas(vertices, faces)
    return v, f


def check_mesh_areas(
    vertices: np.ndarray, faces: np.ndarray, index_dtype: type = np.int64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`check_mesh` that also returns the face areas (F,) it computes on the way.

    For callers that need the areas next (sampling, region areas): on a 5M-face mesh each
    :func:`face_areas` pass costs seconds. ``index_dtype``: dtype of the returned faces (a
    copy, except of a read-only array of that dtype); ``np.int32`` halves their memory on
    huge meshes (int64 is used anyway when the vertex count does not fit).
    """
    v = check_points(vertices, "vertices")
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3:
        raise InvalidInputError(f"faces must have shape (F, 3) (triangles), got {f.shape}")
    if f.shape[0] == 0:
        raise InvalidInputError("the mesh has no faces")
    if not np.issubdtype(f.dtype, np.integer):
        raise InvalidInputError(f"face indices must be integers, got {f.dtype}")
    lo, hi = int(f.min()), int(f.max())  # on the caller's dtype: a cast could wrap
    if lo < 0 or hi >= v.shape[0]:
        raise InvalidInputError(
            f"face indices out of range: they span [{lo}, {hi}] "
            f"but the mesh has {v.shape[0]} vertices"
        )
    fits = v.shape[0] <= np.iinfo(index_dtype).max
    # a copy, unless the caller's array is read-only and of that dtype already (nothing can
    # change it behind our back; the Blender add-on's triangles, 48 MB at 2M polygons)
    f = f.astype(index_dtype if fits else np.int64, copy=f.flags.writeable)
    area = face_areas(v, f)
    if area.sum() <= 0.0:
        raise InvalidInputError("every face has zero area: the surface cannot be sampled")
    return v, f, area


#: triangles processed at once by :func:`face_cross` and its relatives (bounds their
#: temporaries to ~40 MB).
TRI_CHUNK = 262_144


def row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a * b).sum(axis=1)`` of two (n, 3) arrays, written out: numpy adds the three
    columns left to right, so these are its bits (the tests check it), without its slow
    reduction over a short axis."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def pair_dots(f: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """(E,) dot products f[i[e]] · f[j[e]] of rows of ``f`` (N, D), computed ``chunk``
    pairs at a time so memory stays at chunk × D instead of two (E, D) copies."""
    out = np.empty(len(i), np.result_type(f.dtype, np.float32))
    for a in range(0, len(i), chunk):
        b = min(a + chunk, len(i))
        out[a:b] = np.einsum("kd,kd->k", f[i[a:b]], f[j[a:b]])
    return out


def row_norm(x: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(x, axis=1)`` of an (n, 3) array (its bits, see :func:`row_dot`)."""
    return np.sqrt(row_dot(x, x))


def cross_rows(b: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Row-wise cross products of two (n, 3) arrays: ``np.cross``'s own products and
    differences, written out (no broadcasting machinery; the same bits)."""
    out = np.empty((len(b), 3))
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        o = out[:, i]
        np.multiply(b[:, j], e[:, k], out=o)
        o -= b[:, k] * e[:, j]
    return out


def _cross(v: np.ndarray, c: np.ndarray) -> np.ndarray:
    a = v[c[:, 0]]
    return cross_rows(v[c[:, 1]] - a, v[c[:, 2]] - a)


def face_cross(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) float64 cross products (v1 − v0) × (v2 − v0) of every triangle: twice the
    area times the unit normal. Computed in chunks, so memory stays bounded."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces)
    out = np.empty((len(f), 3))
    for k in range(0, len(f), TRI_CHUNK):
        out[k:k + TRI_CHUNK] = _cross(v, f[k:k + TRI_CHUNK])
    return out


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area of each triangle (F,), in the squared unit of ``vertices`` (chunked: no (F, 3)
    temporary)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces)
    out = np.empty(len(f))
    for k in range(0, len(f), TRI_CHUNK):
        out[k:k + TRI_CHUNK] = 0.5 * row_norm(_cross(v, f[k:k + TRI_CHUNK]))
    return out


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F, 3) float64 unit normals of the triangles (zero-area ones stay zero), chunked."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces)
    out = np.empty((len(f), 3))
    for k in range(0, len(f), TRI_CHUNK):
        nrm = _cross(v, f[k:k + TRI_CHUNK])
        nrm /= np.maximum(row_norm(nrm), 1e-300)[:, None]
        out[k:k + TRI_CHUNK] = nrm
    return out


def face_centroid_axis(vertices: np.ndarray, faces: np.ndarray, axis: int,
                       rows: np.ndarray | None = None,
                       weights: np.ndarray | None = None) -> np.ndarray:
    """Coordinate ``axis`` of the centroids of the triangles (``rows`` of ``faces`` when
    given), times the per-face ``weights`` (F,) when given; float64, chunked: one (F,)
    array instead of an (F, 3) one."""
    v = np.ascontiguousarray(np.asarray(vertices, np.float64)[:, axis])
    f = np.asarray(faces)
    n = len(f) if rows is None else len(rows)
    out = np.empty(n)
    for k in range(0, n, TRI_CHUNK):
        r = slice(k, k + TRI_CHUNK) if rows is None else rows[k:k + TRI_CHUNK]
        x = v[f[r]]  # (c, 3) coordinates, one gather
        out[k:k + TRI_CHUNK] = (x[:, 0] + x[:, 1] + x[:, 2]) / 3.0
        if weights is not None:
            out[k:k + TRI_CHUNK] *= weights[r]
    return out


def face_centroids(vertices: np.ndarray, faces: np.ndarray,
                   rows: np.ndarray | None = None) -> np.ndarray:
    """(n, 3) float64 centroids of the triangles (``rows`` of ``faces`` when given),
    chunked (no (F, 3, 3) temporary)."""
    return np.stack([face_centroid_axis(vertices, faces, k, rows) for k in range(3)], axis=1)


def sample_surface(
    vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``n`` points uniformly by area on a triangle mesh.

    Args:
        vertices: (V, 3) vertex positions, any frame.
        faces: (F, 3) triangle indices.
        n: number of points to draw.
        seed: seed of the generator; the same inputs and seed give the same points.

    Returns:
        ``points`` float32 (n, 3) in the frame of ``vertices`` and ``face_index`` int64 (n,)
        naming the triangle each point lies on.
    """
    v, f, area = check_mesh_areas(vertices, faces)
    return sample_checked_surface(v, f, area, n, seed=seed)


def sample_checked_surface(
    vertices: np.ndarray, faces: np.ndarray, areas: np.ndarray, n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sample_surface` of a mesh already validated by :func:`check_mesh_areas`.

    Args:
        vertices: (V, 3) float64 and faces (F, 3) int64 as returned by the check.
        areas: (F,) face areas from the check (total > 0).
        n, seed: as in :func:`sample_surface` (same points for the same inputs and seed).
    """
    v, f = vertices, faces
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(areas)
    face_index = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    face_index = np.minimum(face_index, len(f) - 1)
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    a, b, c = 1.0 - s, s * (1.0 - r2), s * r2
    tri = v[f[face_index]]
    pts = a[:, None] * tri[:, 0] + b[:, None] * tri[:, 1] + c[:, None] * tri[:, 2]
    return pts.astype(np.float32), face_index.astype(np.int64)


def weld_vertices(
    vertices: np.ndarray, faces: np.ndarray, rel_tol: float = 1e-5
) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices closer than ``rel_tol`` × bounding-box diagonal.

    Returns ``(faces_welded, vertex_map)``: faces re-indexed onto representative vertices
    (indices into the *original* vertex array, so positions are unchanged) and the map
    from each original vertex to its representative.
    """
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    vmap = weld_map(v, rel_tol)
    if vmap is None:
        return f.copy(), np.arange(len(v))
    return vmap[f], vmap


def face_components(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Connected components of faces that share a vertex; returns labels (F,) from 0.

    Weld first (:func:`weld_vertices`) when parts were modelled as separate pieces whose
    vertices merely coincide.
    """
    f = np.asarray(faces, np.int64)
    rows = np.repeat(np.arange(len(f)), 3)
    inc = sp.csr_matrix((np.ones(rows.size), (rows, f.ravel())), shape=(len(f), n_vertices))
    # bipartite face-vertex graph: components of faces
    n_f = len(f)
    big = sp.bmat([[None, inc], [inc.T, None]], format="csr")
    _, lab = connected_components(big, directed=False)
    face_lab = lab[:n_f]
    _, face_lab = np.unique(face_lab, return_inverse=True)
    return face_lab.astype(np.int64)


def face_adjacency(faces: np.ndarray) -> np.ndarray:
    """Pairs of faces sharing an edge, int64 (E, 2) with ``a < b``, each pair once."""
    f = np.asarray(faces, np.int64)
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    edges.sort(axis=1)
    owner = np.tile(np.arange(len(f)), 3)
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    e, o = edges[order], owner[order]
    same = (e[1:] == e[:-1]).all(axis=1)
    a, b = o[:-1][same], o[1:][same]
    keep = a != b
    pairs = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)[keep]
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def farthest_point_sampling(xyz: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Indices (k,) of ``k`` points chosen by greedy farthest-point sampling.

    Starts from a seeded random point; ``k`` is clipped to the number of points.
    """
    pts = np.asarray(xyz, np.float64)
    k = int(min(k, len(pts)))
    rng = np.random.default_rng(seed)
    idx = np.empty(k, dtype=np.int64)
    idx[0] = rng.integers(len(pts))
    # squared distances on contiguous coordinate columns with preallocated buffers: the
    # same choice as with Euclidean norms, ~10x faster (N = 10k, k = 512 in ~20 ms)
    cols = [np.ascontiguousarray(pts[:, a]) for a in range(3)]
    d = np.full(len(pts), np.inf)
    acc, tmp = np.empty(len(pts)), np.empty(len(pts))
    i = 0
    while True:
        p = pts[idx[i]]
        np.subtract(cols[0], p[0], out=acc)
        np.multiply(acc, acc, out=acc)
        for a in (1, 2):
            np.subtract(cols[a], p[a], out=tmp)
            np.multiply(tmp, tmp, out=tmp)
            np.add(acc, tmp, out=acc)
        np.minimum(d, acc, out=d)
        i += 1
        if i >= k:
            return idx
        idx[i] = int(np.argmax(d))
