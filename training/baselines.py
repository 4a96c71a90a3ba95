"""Classical baselines measured next to the model by :mod:`training.evaluate`.

Every function works on the evaluation sample's points (object frame; the point baselines
normalise to the model frame [-1, 1]³ first, see :func:`core.geometry.normalize_points`)
and returns per-point results, so all methods are scored on the same points.

* ``cc``: connected components of the welded mesh ("Separate by loose parts" in Blender).
* ``ball``: interactive only — the ``round(s·N)`` points nearest the click.
* ``kmeans``: k-means on XYZ with the oracle K (number of GT parts of the level).
* ``dbscan``: DBSCAN on XYZ; ``eps`` relative to the bounding-box diagonal.
* ``agglo``: PartField-style — Ward agglomerative clustering of encoder features over a
  k-nearest-neighbour graph of the points, cut at the oracle K of every level. Above
  ``agglo_max_points`` points the clustering runs on that many farthest-point samples and
  every point takes the label of its nearest sample (scikit-learn's connectivity-constrained
  Ward costs ~2.5 s per object at 10,000 points, a Python loop over merges).

All settings are fixed a priori in :class:`BaselineSettings` (never tuned on the dev set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from sklearn.cluster import DBSCAN, KMeans, ward_tree
from sklearn.neighbors import kneighbors_graph

from core.geometry import face_components, farthest_point_sampling, normalize_points


@dataclass(frozen=True)
class BaselineSettings:
    """Settings of the baselines (chosen before looking at any result, never tuned).

    Attributes:
        ball_default_fraction: fraction of the object's points the ``ball`` baseline selects
            when no scale is given (0.1 = a tenth of the object).
        dbscan_eps_rel: DBSCAN radius as a fraction of the bounding-box diagonal of the
            normalised points (0.02 ≈ 2 point spacings at 10,000 points on a typical object).
        dbscan_min_samples: DBSCAN core-point threshold (neighbours within ``eps``).
        kmeans_n_init: k-means restarts (best inertia kept).
        agglo_knn: neighbours per point in the connectivity graph of ``agglo`` (XYZ).
        agglo_max_points: ``agglo`` clusters at most this many farthest-point samples and
            labels the rest by their nearest sample (0 = every point; a speed setting).
        seed: seed of every random choice.
    """

    ball_default_fraction: float = 0.1
    dbscan_eps_rel: float = 0.02
    dbscan_min_samples: int = 5
    kmeans_n_init: int = 3
    agglo_knn: int = 10
    agglo_max_points: int = 2048
    seed: int = 0


def cc_labels(faces_welded: np.ndarray, n_vertices: int, point_faces: np.ndarray) -> np.ndarray:
    """Connected-component id (N,) of every point, via the face it lies on.

    Args:
        faces_welded: (F, 3) faces after :func:`core.geometry.weld_vertices`.
        n_vertices: number of vertices the face indices refer to.
        point_faces: (N,) face index of each sampled point.
    """
    comp = face_components(faces_welded, n_vertices)
    return comp[np.asarray(point_faces, np.int64)]


def ball_mask(points: np.ndarray, idx: int, fraction: float) -> np.ndarray:
    """The ``max(1, round(fraction·N))`` points nearest (Euclidean) to point ``idx``; (N,) bool."""
    pts = np.asarray(points, np.float64)
    k = int(min(len(pts), max(1, round(float(fraction) * len(pts)))))
    d = np.linalg.norm(pts - pts[idx], axis=1)
    mask = np.zeros(len(pts), bool)
    mask[np.argpartition(d, k - 1)[:k]] = True
    return mask


def kmeans_labels(points: np.ndarray, k: int, settings: BaselineSettings) -> np.ndarray:
    """k-means on normalised XYZ with ``k`` clusters; labels (N,)."""
    x = normalize_points(points)
    k = int(min(k, len(x)))
    km = KMeans(n_clusters=k, n_init=settings.kmeans_n_init, random_state=settings.seed)
    return km.fit_predict(x).astype(np.int64)


def dbscan_labels(points: np.ndarray, settings: BaselineSettings) -> np.ndarray:
    """DBSCAN on normalised XYZ; noise points join the cluster of their nearest clustered point.

    When DBSCAN labels every point as noise, everything is one part.
    """
    x = normalize_points(points).astype(np.float64)
    diag = float(np.linalg.norm(x.max(axis=0) - x.min(axis=0)))
    lab = DBSCAN(eps=settings.dbscan_eps_rel * diag, min_samples=settings.dbscan_min_samples).fit(
        x
    ).labels_.astype(np.int64)
    noise = lab < 0
    if noise.all():
        return np.zeros(len(x), np.int64)
    if noise.any():
        _, nn = cKDTree(x[~noise]).query(x[noise], k=1)
        lab[noise] = lab[~noise][nn]
    return lab


def _cut(children: np.ndarray, n_leaves: int, k: int) -> np.ndarray:
    """Labels (n_leaves,) after the first ``n_leaves - k`` merges of a merge list."""
    parent = np.arange(n_leaves + len(children))
    for i, (a, b) in enumerate(children[: max(0, n_leaves - k)]):
        parent[a] = parent[b] = n_leaves + i
    # follow parents to the top (vectorised pointer jumping)
    root = parent[:n_leaves].copy()
    while True:
        nxt = parent[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    _, lab = np.unique(root, return_inverse=True)
    return lab.astype(np.int64)


def agglo_labels(
    features: np.ndarray, points: np.ndarray, ks: list[int], settings: BaselineSettings
) -> dict[int, np.ndarray]:
    """Ward clustering of L2-normalised ``features`` (N, D) over a kNN graph of ``points``.

    One merge tree is built and cut at every K in ``ks``; returns ``{k: labels (N,)}``. With
    more than ``settings.agglo_max_points`` points the tree is built on that many
    farthest-point samples and each point takes its nearest sample's label. Where the kNN
    graph is disconnected, scikit-learn joins its components first (it warns).
    """
    f = np.asarray(features, np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    xyz = normalize_points(points)
    m = settings.agglo_max_points
    if m and len(xyz) > m:
        keep = farthest_point_sampling(xyz, m, seed=settings.seed)
        to_keep = cKDTree(xyz[keep]).query(xyz, k=1)[1]
    else:
        keep, to_keep = np.arange(len(xyz)), None
    conn = kneighbors_graph(xyz[keep], settings.agglo_knn, include_self=False)
    children, _, n_leaves, _ = ward_tree(f[keep], connectivity=conn)
    out = {}
    for k in sorted(set(ks)):
        lab = _cut(children, n_leaves, int(min(k, n_leaves)))
        out[k] = lab if to_keep is None else lab[to_keep]
    return out
