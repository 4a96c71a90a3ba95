"""Splitting oversized regions into compact chunks (step 2 of :mod:`core.superfaces`).

A graph Voronoi over *cells* (the faces of one region nearest to one sampled point), so the
cost depends on the number of samples, not of faces; edge lengths grow across concave folds
so chunk borders settle in valleys. Per-face work runs in chunks (no (F, 3) arrays), so a
region covering a 4M-triangle mesh costs a few (F,) arrays. Pure numpy + ``cKDTree``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from .creases import EdgeGeometry
from .geometry import TRI_CHUNK, face_centroid_axis, face_centroids, farthest_point_sampling
from .mesh_graph import CHUNK, components, dense_inverse, rows_within
from .mesh_regions import MeshStructure

if TYPE_CHECKING:
    from .superfaces import SuperfaceSettings


def _cells(label: np.ndarray, big: np.ndarray, fb: np.ndarray, mesh: MeshStructure,
           points: np.ndarray) -> np.ndarray:
    """Cell (int64, numbered from 0 by (region, nearest point)) of each face in ``fb``.

    ``points`` are deduplicated first: samples often share a face, and k-d trees (SciPy's
    and Blender's numpy stand-in) break ties between identical points differently, which
    would renumber the cells and move the chunk seeds."""
    seeds = np.unique(points, axis=0)
    tree = cKDTree(seeds)
    # regions renumbered among the big ones (same order), so the keys stay small
    big_rank = np.cumsum(big, dtype=np.int64) - 1
    key = np.empty(len(fb), np.int64)  # (region, nearest point)
    for k in range(0, len(fb), TRI_CHUNK):
        rows = fb[k:k + TRI_CHUNK]
        near = tree.query(face_centroids(mesh.vertices, mesh.faces, rows), k=1, workers=-1)[1]
        key[k:k + TRI_CHUNK] = big_rank[label[rows]] * (len(seeds) + 1) + near
    return dense_inverse(key)


def _cell_steps(cell_f: np.ndarray, cell_region: np.ndarray, cell_cen: np.ndarray,
                mesh: MeshStructure, eg: EdgeGeometry, concave_penalty: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbouring cells of one region (``ca < cb``) and the step length between them:
    centroid distance × (1 + penalty × the worst concave bend on their shared edges)."""
    n_cell = len(cell_region)
    adj = mesh.adjacency
    keys, bends = [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for s in range(0, len(adj), CHUNK):
        a, b = cell_f[adj[s:s + CHUNK, 0]], cell_f[adj[s:s + CHUNK, 1]]
        x = (a >= 0) & (b >= 0) & (a != b)
        x &= cell_region[np.maximum(a, 0)] == cell_region[np.maximum(b, 0)]
        a, b = a[x], b[x]
        keys.append(np.minimum(a, b) * n_cell + np.maximum(a, b))
        bends.append(np.maximum(eg.signed[s:s + CHUNK][x], 0.0))
    key, bend = np.concatenate(keys), np.concatenate(bends)
    uk, inv = np.unique(key, return_inverse=True)
    worst = np.zeros(len(uk))
    np.maximum.at(worst, inv.reshape(-1), bend)
    ca, cb = uk // n_cell, uk % n_cell
    step = np.linalg.norm(cell_cen[ca] - cell_cen[cb], axis=1) * (
        1.0 + concave_penalty * worst)
    return ca, cb, step


def chunk_regions(label: np.ndarray, mesh: MeshStructure, eg: EdgeGeometry,
                  points: np.ndarray, s: SuperfaceSettings, seed: int) -> np.ndarray:
    """Split regions above ``s.max_share`` into compact chunks (labels (F,) int64).

    ``label``: (F,) region of every face (from 0); ``points``: (N, 3) one point per sample,
    object frame (the cells' seeds); ``seed``: seed of the chunk seeds (farthest-point
    sampling).
    """
    n = int(label.max()) + 1
    area = np.bincount(label, weights=mesh.face_area, minlength=n)
    total = float(area.sum())
    big = area > s.max_share * total
    if not big.any():
        return label
    n_faces = np.bincount(label, minlength=n)
    fb = np.flatnonzero(big[label])
    cell_b = _cells(label, big, fb, mesh, points)
    n_cell = int(cell_b.max()) + 1
    cell_area = np.bincount(cell_b, weights=mesh.face_area[fb], minlength=n_cell)
    cell_cen = np.stack([np.bincount(cell_b, weights=face_centroid_axis(
        mesh.vertices, mesh.faces, k, fb, mesh.face_area), minlength=n_cell)
        for k in range(3)], axis=1)
    cell_cen /= np.maximum(cell_area, 1e-300)[:, None]
    cell_region = np.zeros(n_cell, np.int64)
    cell_region[cell_b] = label[fb]
    cell_f = np.full(len(label), -1, np.int64)
    cell_f[fb] = cell_b
    del cell_b
    ca, cb, step = _cell_steps(cell_f, cell_region, cell_cen, mesh, eg, s.concave_penalty)
    dist = np.full(n_cell, np.inf)
    owner = np.full(n_cell, -1, np.int64)
    next_id = n
    for r in np.flatnonzero(big):
        cells = np.flatnonzero(cell_region == r)
        k = int(min(round(area[r] / (s.chunk_share * total)), len(cells),
                    int(n_faces[r]) // s.min_chunk_faces))
        if k < 2:  # too few faces to cut (a low-poly surface): the region stays whole
            continue
        seeds = cells[farthest_point_sampling(cell_cen[cells], k, seed=seed)]
        dist[seeds] = 0.0
        owner[seeds] = next_id + np.arange(len(seeds))
        next_id += len(seeds)
    src, dst = np.concatenate([ca, cb]), np.concatenate([cb, ca])
    w = np.concatenate([step, step])
    for _ in range(s.max_relax_iterations):
        cand = dist[src] + w
        better = cand < dist[dst]
        if not better.any():
            break
        cs, cd, cv = src[better], dst[better], cand[better]
        order = np.lexsort((cv, cd))  # per target, the best candidate first
        cd, cs, cv = cd[order], cs[order], cv[order]
        first = np.ones(len(cd), bool)
        first[1:] = cd[1:] != cd[:-1]
        dist[cd[first]] = cv[first]
        owner[cd[first]] = owner[cs[first]]
    out = label.copy()
    for k in range(0, len(fb), CHUNK):
        rows = fb[k:k + CHUNK]
        got = owner[cell_f[rows]]
        out[rows] = np.where(got >= 0, got, label[rows])
    del cell_f, fb
    # chunks may come out disconnected (cells touch only at corners): split into pieces.
    # A piece lies inside one chunk, so numbering (piece, chunk) pairs as np.unique would
    # gives the piece labels themselves.
    inside = rows_within(dense_inverse(out), mesh.adjacency)
    del out
    return components(len(label), mesh.adjacency, mask=inside)
