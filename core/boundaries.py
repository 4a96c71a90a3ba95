"""Face-level boundaries: Segment All's part borders moved into the mesh's concave valleys.

Parts are unions of superfaces, so their borders are superface borders: on a smooth
one-piece mesh those are the compact chunks' outlines, which cross a limb somewhere near,
not exactly along, the valley where it meets the body. For every pair of touching parts
(a, b) this module solves a random-walker problem in a band around their shared border:
each band face gets the probability u that a walk from it first reaches the a side of the
band rather than the b side, walking over face adjacencies with conductance = shared edge
length / (1 + ``concave_weight`` × the edge's concave bend in radians); faces with u ≥ ½
join a. Where the surface folds inwards the conductance drops, so u falls off there and
the border settles in the valley (the minima rule, per face). Only faces within the band
move, so a part never grows or shrinks by more than the band, and never vanishes.

Everything is numpy: the band is a geodesic distance grown from the border over face
centroids (label-correcting sweeps from the border outwards), the linear system is solved
by Jacobi-preconditioned conjugate gradients without a matrix (the vendored copy inside
Blender has no SciPy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .geometry import face_centroids
from .mesh_graph import Groups, csr_rows, index_dtype

if TYPE_CHECKING:  # types only: neither module imports this one
    from .mesh_regions import MeshStructure
    from .superfaces import Superfaces


@dataclass
class BoundarySettings:
    """How Segment All's part borders are refined (one-piece meshes, see
    :meth:`core.mesh_parts.MeshParts.segment`).

    Attributes:
        concave_weight: conductance of an edge = its length / (1 + this × its concave bend
            in radians); 0 = plain lengths (the border only gets smoother). 0 and
            ``band`` 0 switch the refinement off.
        band: half-width of the band around each border, as a fraction of √(total area)
            (geodesic, over face centroids); 0 = no refinement.
        max_iterations: conjugate-gradient iterations per border at most.
        tolerance: relative residual at which the iterations stop.
        max_region_faces: a border whose problem (the faces of its two parts' superfaces
            within two graph steps of it, :func:`refine_mesh_parts`) holds more faces
            keeps its superface outline; this bounds the memory whatever the mesh's size.
            Blender's 2M-polygon Suzanne (4.0M triangles; ``python -m core.bench_labels
            --blender --faces 2000000 --scale S``) has borders of up to 1.51M / 1.09M /
            1.01M / 0.54M faces in 4 / 10 / 15 / 60 parts (S = 0.5 / 0.2 / 0.08 / 0.02);
            with no limit its Segment All peaked at 1.47 / 1.39 / 1.38 / 1.32 GB in 17 /
            25 / 26 / 40 s, against the add-on's 1.5 GB budget and 1.32 GB, 16–18 s
            without the refinement. With 1.2M: 1.37 GB in 4 parts (its 1.51M border
            kept) and 1.39 GB in 10 (``make bench``: 1.38 GB, 24.6 s).
    """

    concave_weight: float = 30.0
    band: float = 0.04
    max_iterations: int = 300
    tolerance: float = 1e-4
    max_region_faces: int = 1_200_000


class _Graph:
    """Face adjacency in both directions, sorted by source face (CSR-like)."""

    def __init__(self, n: int, pairs: np.ndarray, weight: np.ndarray, step: np.ndarray):
        idx = index_dtype(n)
        src = np.concatenate([pairs[:, 0], pairs[:, 1]]).astype(idx, copy=False)
        order = np.argsort(src, kind="stable")
        self.src = src[order]
        del src
        self.dst = np.concatenate([pairs[:, 1], pairs[:, 0]]).astype(idx, copy=False)[order]
        # float32 before doubling: no float64 copies of the 2E arrays
        self.weight = np.tile(weight.astype(np.float32, copy=False), 2)[order]
        self.step = np.tile(step.astype(np.float32, copy=False), 2)[order]
        del order
        self.indptr = np.searchsorted(self.src, np.arange(n + 1, dtype=idx))

    def edges_of(self, faces: np.ndarray) -> np.ndarray:
        """Indices of the directed edges leaving ``faces``."""
        return csr_rows(self.indptr, faces)


def _band(g: _Graph, seeds: np.ndarray, allowed: np.ndarray, width: float) -> np.ndarray:
    """(F,) bool: faces in ``allowed`` within geodesic ``width`` of ``seeds``."""
    dist = np.full(len(allowed), np.inf)
    dist[seeds] = 0.0
    active = seeds
    while len(active):
        e = g.edges_of(active)
        t = g.dst[e]
        cand = dist[g.src[e]] + g.step[e]
        ok = allowed[t] & (cand <= width) & (cand < dist[t])
        if not ok.any():
            break
        t, cand = t[ok], cand[ok]
        np.minimum.at(dist, t, cand)
        active = np.unique(t)
    return np.isfinite(dist)


def _solve(w: np.ndarray, i: np.ndarray, j: np.ndarray, diag: np.ndarray, rhs: np.ndarray,
           x: np.ndarray, settings: BoundarySettings) -> np.ndarray:
    """Jacobi-preconditioned CG for (diag − W) x = rhs, W the symmetric weights ``w`` on
    the pairs (i, j); ``x`` the start."""
    n = len(diag)

    def mul(v: np.ndarray) -> np.ndarray:
        return diag * v - np.bincount(i, w * v[j], n) - np.bincount(j, w * v[i], n)

    r = rhs - mul(x)
    z = r / diag
    p = z.copy()
    rz = float(r @ z)
    stop = settings.tolerance * max(float(np.linalg.norm(rhs)), 1e-300)
    for _ in range(settings.max_iterations):
        if np.linalg.norm(r) <= stop:
            break
        q = mul(p)
        alpha = rz / max(float(p @ q), 1e-300)
        x = x + alpha * p
        r = r - alpha * q
        z = r / diag
        rz_new = float(r @ z)
        p = z + (rz_new / max(rz, 1e-300)) * p
        rz = rz_new
    return x


def _steps(face_centroid: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """(E,) float32 distance between the centroids of each pair's faces, one axis at a
    time (no (E, 3) temporaries: at 2M faces those would be 140 MB each)."""
    sq = np.zeros(len(pairs), np.float32)
    for k in range(face_centroid.shape[1]):
        c = np.ascontiguousarray(face_centroid[:, k], dtype=np.float32)
        d = c[pairs[:, 0]]
        d -= c[pairs[:, 1]]
        sq += d * d
    return np.sqrt(sq, out=sq)


def refine_boundaries(labels: np.ndarray, pairs: np.ndarray, edge_length: np.ndarray,
                      concave_bend: np.ndarray, face_centroid: np.ndarray,
                      face_area: np.ndarray, settings: BoundarySettings,
                      total_area: float | None = None,
                      part_faces: np.ndarray | None = None) -> np.ndarray:
    """Part labels (F,) with every border between two touching parts moved to the valley
    within its band (see the module docstring). The number of parts never changes.

    Args:
        labels: (F,) part of every face.
        pairs: (E, 2) faces sharing an edge.
        edge_length: (E,) length of the shared edge (object units).
        concave_bend: (E,) signed bend in radians, > 0 concave (0 where unknown).
        face_centroid: (F, 3) face centroids (object frame).
        face_area: (F,) face areas.
        settings: see :class:`BoundarySettings`.
        total_area: the area whose square root sets the band's width (None = the sum of
            ``face_area``; pass the whole mesh's when the faces are a part of it).
        part_faces: faces of each part in the whole mesh (indexed by label; None = count
            them in ``labels``), so that a part is only left whole when the band covers
            all of it, not just its faces in ``labels``; kept up to date in place as faces
            change parts.
    """
    out = np.asarray(labels, np.int64).copy()
    if settings.band <= 0 or not len(pairs):
        return out
    conduct = edge_length / (1.0 + settings.concave_weight * np.maximum(concave_bend, 0.0))
    g = _Graph(len(out), pairs, np.maximum(conduct, 1e-12), _steps(face_centroid, pairs))
    del conduct
    area = float(face_area.sum()) if total_area is None else float(total_area)
    width = settings.band * float(np.sqrt(area))
    la, lb = out[pairs[:, 0]], out[pairs[:, 1]]
    cross = np.flatnonzero(la != lb)
    if not len(cross):  # parts that touch only across gaps: nothing to move
        return out
    sizes = np.bincount(out) if part_faces is None else part_faces
    lo, hi = np.minimum(la[cross], lb[cross]), np.maximum(la[cross], lb[cross])
    del la, lb
    order = np.lexsort((hi, lo))
    cross, lo, hi = cross[order], lo[order], hi[order]
    starts = np.flatnonzero(np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])])
    for k, first in enumerate(starts.tolist()):
        a, b = int(lo[first]), int(hi[first])
        seeds = np.unique(pairs[cross[first:(starts[k + 1] if k + 1 < len(starts)
                                              else len(cross))]].ravel())
        mine = (out == a) | (out == b)
        seeds = seeds[mine[seeds]]  # an earlier border's band may have taken some
        if not len(seeds):
            continue
        band = _band(g, seeds, mine, width)
        if (np.count_nonzero(band & (out == a)) >= sizes[a]
                or np.count_nonzero(band & (out == b)) >= sizes[b]):
            continue  # a whole part inside the band: leave it as it is
        idx = np.flatnonzero(band)
        pos = np.full(len(out), -1, np.int64)
        pos[idx] = np.arange(len(idx))
        e = g.edges_of(idx)
        s, t, w = g.src[e], g.dst[e], g.weight[e]
        inner = band[t] & (s < t)
        diag = np.bincount(pos[s], w, len(idx))
        rhs = np.bincount(pos[s], np.where(~band[t] & (out[t] == a), w, 0.0), len(idx))
        # faces of the band with no path to either side keep their label
        eps = 1e-6 * float(w.mean()) if len(w) else 1e-12
        start = (out[idx] == a).astype(np.float64)
        diag = diag + eps
        rhs = rhs + eps * start
        # an edge into a third part is no side: not in the matrix, not in the diagonal
        third = ~band[t] & (out[t] != a) & (out[t] != b)
        diag = diag - np.bincount(pos[s], np.where(third, w, 0.0), len(idx))
        u = _solve(w[inner], pos[s[inner]], pos[t[inner]], diag, rhs, start, settings)
        new = np.where(u >= 0.5, a, b)
        sizes[a] += np.count_nonzero(new == a) - np.count_nonzero(out[idx] == a)
        sizes[b] += np.count_nonzero(new == b) - np.count_nonzero(out[idx] == b)
        out[idx] = new
    return out


def refine_mesh_parts(face: np.ndarray, sf: Superfaces, mesh: MeshStructure,
                      settings: BoundarySettings) -> np.ndarray:
    """:func:`refine_boundaries` of Segment All's face labels ``face`` (F,) on a whole
    mesh (its superfaces ``sf`` with their kept concave bends, its welded structure
    ``mesh``), one border at a time: for each pair of touching parts only the faces of
    their superfaces within two graph steps of their shared border can move (a band is
    narrower than a chunk), so each problem holds a small share of the mesh (on a bumpy
    sphere the largest border's 7–26 % of the faces, where all borders together reach
    every face) and the memory is that of the largest border; a border whose problem
    exceeds ``settings.max_region_faces`` keeps its outline. A mesh without bends returns
    ``face`` itself, and so does one with unlabelled (negative) faces."""
    if settings.band <= 0 or sf.concave_bend is None or not len(face) or face.min() < 0:
        return face
    part = np.zeros(sf.num, np.int64)
    part[sf.face_sf] = face
    a, b = sf.pairs[:, 0], sf.pairs[:, 1]
    cross = np.flatnonzero(part[a] != part[b])
    if not len(cross):
        return face
    lo = np.minimum(part[a[cross]], part[b[cross]])
    hi = np.maximum(part[a[cross]], part[b[cross]])
    order = np.lexsort((hi, lo))
    cross, lo, hi = cross[order], lo[order], hi[order]
    starts = np.flatnonzero(np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])])
    ends = np.r_[starts[1:], len(cross)]
    faces_of = Groups(sf.face_sf, sf.num)  # faces of each superface
    adj = mesh.adjacency
    edges_of = Groups(sf.face_sf[adj[:, 0]], sf.num)  # mesh edges, by their first face's
    out = face.copy()
    sizes = np.bincount(out)
    local = np.full(len(face), -1, np.int32)
    for first, end in zip(starts.tolist(), ends.tolist()):
        p, q = int(lo[first]), int(hi[first])
        near = np.zeros(sf.num, bool)
        near[sf.pairs[cross[first:end]].ravel()] = True
        pq = (part == p) | (part == q)
        for _ in range(2):
            grow = near.copy()
            grow[b[near[a]]] = True
            grow[a[near[b]]] = True
            near = grow & pq
        cells = np.flatnonzero(near)
        rows = faces_of.members(cells)
        rows = rows[(out[rows] == p) | (out[rows] == q)]
        if not len(rows) or len(rows) > settings.max_region_faces:
            continue
        local[rows] = np.arange(len(rows), dtype=np.int32)
        e = edges_of.members(cells)
        e = e[local[adj[e, 1]] >= 0]
        e = e[local[adj[e, 0]] >= 0]
        sub = refine_boundaries(out[rows], local[adj[e]], mesh.edge_length[e],
                                sf.concave_bend[e],
                                face_centroids(mesh.vertices, mesh.faces, rows),
                                mesh.face_area[rows], settings, total_area=mesh.total_area,
                                part_faces=sizes)
        local[rows] = -1
        out[rows] = sub
    return out
