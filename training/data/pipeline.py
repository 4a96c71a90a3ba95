"""The paper's annotation pipeline on sampled points: area-ratio levels and connectivity
refinement (the quality filter lives in :mod:`training.data.quality`).

* **Area-ratio levels**: starting from leaf parts (links, sub-meshes, nodes), slivers below
  ``min_fraction`` of the surface are merged into a neighbour; then, for each target ratio
  in ``thresholds`` (ascending), the smallest part is merged into the neighbour it touches
  most until every part covers at least that fraction of the surface. Each target yields
  one level, so levels nest and every point has exactly one part per level. Surface area is
  measured by point counts (points are sampled uniformly by area).
* **Connectivity refinement**: DBSCAN splits a part into its spatially disconnected pieces
  (a connected part stays whole).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .parts import nest_levels


@dataclass(frozen=True)
class PipelineSettings:
    """Settings of the annotation pipeline.

    Attributes:
        thresholds: area-ratio targets (fraction of the surface) of successive coarser levels.
        jitter: each target is multiplied by a random factor in [1/jitter, jitter] per object.
        min_fraction: parts smaller than this fraction of the surface are slivers (merged).
        contact_radius: two parts touch when points of both lie within this fraction of the
            bounding-box diagonal.
        min_parts: merging stops when this many parts remain.
        dbscan_eps_scale: DBSCAN radius = this × the median distance from a point to its
            4th nearest neighbour (the sampling spacing).
        dbscan_min_samples: DBSCAN ``min_samples``.
        min_cluster_points: DBSCAN clusters with fewer points join the nearest cluster of the
            same part (keeps stray samples from becoming parts).
    """

    thresholds: tuple[float, ...] = (0.03, 0.1, 0.25)
    jitter: float = 1.5
    min_fraction: float = 0.002
    contact_radius: float = 0.015
    min_parts: int = 2
    dbscan_eps_scale: float = 3.0
    dbscan_min_samples: int = 4
    min_cluster_points: int = 10


def contact_counts(points: np.ndarray, labels: np.ndarray, radius: float) -> dict:
    """Number of point pairs closer than ``radius`` between each pair of labels.

    Returns a dict ``{(a, b): count}`` with ``a < b``.
    """
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return {}
    la, lb = labels[pairs[:, 0]], labels[pairs[:, 1]]
    diff = la != lb
    a, b = np.minimum(la[diff], lb[diff]), np.maximum(la[diff], lb[diff])
    if len(a) == 0:
        return {}
    key = a.astype(np.int64) * (int(labels.max()) + 1) + b
    uk, cnt = np.unique(key, return_counts=True)
    m = int(labels.max()) + 1
    return {(int(k // m), int(k % m)): int(c) for k, c in zip(uk, cnt)}


class _Merger:
    """Greedy merging of parts on a contact graph (union of leaf parts)."""

    def __init__(self, points: np.ndarray, labels: np.ndarray, contacts: dict):
        self.n = len(labels)
        ids, self.leaf = np.unique(labels, return_inverse=True)
        p = len(ids)
        self.size = np.bincount(self.leaf, minlength=p).astype(np.float64)
        self.csum = np.zeros((p, 3))
        np.add.at(self.csum, self.leaf, points)
        remap = {int(x): i for i, x in enumerate(ids)}
        self.nb: list[dict[int, float]] = [dict() for _ in range(p)]
        for (a, b), c in contacts.items():
            if a in remap and b in remap:
                ia, ib = remap[a], remap[b]
                self.nb[ia][ib] = self.nb[ia].get(ib, 0) + c
                self.nb[ib][ia] = self.nb[ib].get(ia, 0) + c
        self.alive = set(range(p))
        self.owner = np.arange(p)  # leaf part -> current part

    def merge(self, a: int) -> None:
        """Merge part ``a`` into the neighbour it touches most (or the nearest part)."""
        others = [x for x in self.alive if x != a]
        if self.nb[a]:
            b = max(self.nb[a], key=lambda x: (self.nb[a][x], -self.size[x]))
        else:
            ca = self.csum[a] / self.size[a]
            b = min(others, key=lambda x: float(np.linalg.norm(self.csum[x] / self.size[x] - ca)))
        for x, c in self.nb[a].items():
            if x == b:
                continue
            self.nb[b][x] = self.nb[b].get(x, 0) + c
            self.nb[x][b] = self.nb[x].get(b, 0) + c
            self.nb[x].pop(a, None)
        self.nb[b].pop(a, None)
        self.nb[a] = {}
        self.size[b] += self.size[a]
        self.csum[b] += self.csum[a]
        self.alive.discard(a)
        self.owner[self.owner == a] = b

    def merge_until(self, fraction: float, min_parts: int) -> None:
        while len(self.alive) > min_parts:
            a = min(self.alive, key=lambda x: self.size[x])
            if self.size[a] >= fraction * self.n:
                break
            self.merge(a)

    def labels(self) -> np.ndarray:
        _, lab = np.unique(self.owner[self.leaf], return_inverse=True)
        return lab


def area_ratio_levels(
    points: np.ndarray,
    leaf_labels: np.ndarray,
    settings: PipelineSettings = PipelineSettings(),
    rng: np.random.Generator | None = None,
    extra_contacts: dict | None = None,
) -> np.ndarray:
    """Nested levels (L, N) from leaf labels (N,) by area-ratio merging (see module doc).

    Args:
        points: (N, 3) surface samples (uniform by area), any frame.
        leaf_labels: (N,) int leaf part of each point.
        settings: targets, sliver size and contact radius.
        rng: jitters the targets when given (different levels per draw of one asset).
        extra_contacts: additional ``{(a, b): weight}`` between leaf labels (e.g. kinematic
            parent-child links), added to the geometric contacts.

    Returns:
        int64 (L, N): level 0 = leaves without slivers; each later level reaches the next
        target; duplicates dropped; at least one level.
    """
    pts = np.asarray(points, np.float64)
    lab = np.asarray(leaf_labels, np.int64)
    diag = float(np.linalg.norm(pts.max(0) - pts.min(0)))
    contacts = contact_counts(pts, lab, settings.contact_radius * diag)
    for k, w in (extra_contacts or {}).items():
        a, b = min(k), max(k)
        contacts[(a, b)] = contacts.get((a, b), 0) + w
    m = _Merger(pts, lab, contacts)
    m.merge_until(settings.min_fraction, settings.min_parts)
    levels = [m.labels()]
    targets = np.asarray(settings.thresholds, np.float64)
    if rng is not None and settings.jitter > 1:
        targets = targets * np.exp(rng.uniform(-np.log(settings.jitter), np.log(settings.jitter),
                                               len(targets)))
        targets = np.sort(targets)
    for t in targets:
        m.merge_until(float(t), settings.min_parts)
        cur = m.labels()
        if not np.array_equal(cur, levels[-1]):
            levels.append(cur)
    return np.stack(levels)


def sampling_spacing(points: np.ndarray, k: int = 4) -> float:
    """Median distance from a point to its ``k``-th nearest neighbour."""
    d, _ = cKDTree(points).query(points, k=k + 1)
    return float(np.median(d[:, k]))


def dbscan_within_labels(points: np.ndarray, labels: np.ndarray, eps: float,
                         min_samples: int) -> np.ndarray:
    """DBSCAN run separately inside every label, all labels at once.

    Same definition as :class:`sklearn.cluster.DBSCAN` (core point: at least
    ``min_samples`` points of its label within ``eps``, itself included; clusters: core
    points linked through ``eps``-neighbourhoods; border points join a neighbouring core's
    cluster; the rest is noise, -1), computed with one k-d tree pair query instead of one
    fit per label (~20x faster on 10,000 points).

    Returns:
        (N,) int64 cluster ids, unique across labels; -1 for noise.
    """
    n = len(points)
    pairs = cKDTree(points).query_pairs(eps, output_type="ndarray")
    if len(pairs):
        pairs = pairs[labels[pairs[:, 0]] == labels[pairs[:, 1]]]
    deg = np.bincount(pairs.ravel(), minlength=n) + 1
    core = deg >= min_samples
    cc = pairs[core[pairs[:, 0]] & core[pairs[:, 1]]]
    g = sp.coo_matrix((np.ones(len(cc)), (cc[:, 0], cc[:, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    out = np.where(core, comp, -1).astype(np.int64)
    # border points: a non-core point next to a core point joins that core's cluster
    for a, b in ((0, 1), (1, 0)):
        m = ~core[pairs[:, a]] & core[pairs[:, b]]
        out[pairs[m, a]] = comp[pairs[m, b]]
    return out


def split_disconnected(
    points: np.ndarray, labels: np.ndarray, settings: PipelineSettings = PipelineSettings(),
    eps: float | None = None,
) -> np.ndarray:
    """Split every part into its spatially disconnected pieces with DBSCAN.

    Args:
        points: (N, 3) surface samples.
        labels: (N,) part ids.
        settings: DBSCAN radius scale, ``min_samples`` and the smallest kept cluster.
        eps: DBSCAN radius in the points' unit (default: ``dbscan_eps_scale`` × spacing).

    Returns:
        (N,) int64 new labels (renumbered); a connected part keeps one label.
    """
    pts = np.asarray(points, np.float64)
    lab = np.asarray(labels, np.int64)
    if eps is None:
        eps = settings.dbscan_eps_scale * sampling_spacing(pts)
    cl = dbscan_within_labels(pts, lab, eps, settings.dbscan_min_samples)
    out = np.empty_like(lab)
    nxt = 0
    for part in np.unique(lab):
        idx = np.flatnonzero(lab == part)
        c = cl[idx]
        if len(idx) < 2 * settings.min_cluster_points or (c >= 0).all() and (c == c[0]).all():
            out[idx] = nxt
            nxt += 1
            continue
        c = _absorb_small(pts[idx], c, settings.min_cluster_points)
        _, c = np.unique(c, return_inverse=True)
        out[idx] = nxt + c
        nxt += int(c.max()) + 1
    return out


def _absorb_small(pts: np.ndarray, cl: np.ndarray, min_points: int) -> np.ndarray:
    """Give noise points (-1) and clusters under ``min_points`` to the nearest big cluster."""
    ids, counts = np.unique(cl[cl >= 0], return_counts=True)
    big = set(ids[counts >= min_points].tolist())
    keep = np.isin(cl, list(big)) if big else np.zeros(len(cl), bool)
    if not keep.any():
        return np.zeros(len(cl), np.int64)
    if keep.all():
        return cl
    _, nn = cKDTree(pts[keep]).query(pts[~keep])
    cl = cl.copy()
    cl[~keep] = cl[keep][nn]
    return cl


def refine_levels(points: np.ndarray, levels: np.ndarray,
                  settings: PipelineSettings = PipelineSettings(), all_levels: bool = False
                  ) -> np.ndarray:
    """Connectivity refinement of nested levels (L, N).

    By default only the finest level is split (a leaf made of separate pieces becomes
    several leaves); coarser levels keep groups of disconnected parts (four table legs are
    one "leg set"), as the evaluation hierarchies do. ``all_levels=True`` splits every
    level, as the paper describes. Nesting is restored afterwards.
    """
    lv = np.asarray(levels, np.int64).copy()
    eps = settings.dbscan_eps_scale * sampling_spacing(points)
    rows = range(lv.shape[0]) if all_levels else [0]
    for r in rows:
        lv[r] = split_disconnected(points, lv[r], settings, eps=eps)
    return nest_levels(lv)
