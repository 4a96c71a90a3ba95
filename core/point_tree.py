"""Segment All on point clouds: one merge tree over the encoder features of the points.

The point-cloud counterpart of the mesh path's superfaces + merge tree
(:mod:`core.superfaces`, :mod:`core.merge_tree`). The leaves are the Voronoi cells of
``PointTreeSettings.num_leaves`` farthest-point samples; two cells are neighbours when one
seed is among the other's ``neighbours`` nearest seeds (model frame). Neighbouring clusters
merge, cheapest first, by one of two linkages of the L2-normalised encoder features f:

* ``average``: the cosine distance between neighbouring leaves' mean features, and after a
  merge the size-weighted mean of the merged clusters' linkages to each neighbour (UPGMA
  over the neighbour graph). Follows the features' boundaries and keeps small parts
  (knobs, handles) apart from big ones.
* ``ward``: Ward's criterion on the features, √(2 n_a n_b / (n_a + n_b)) · |μ_a − μ_b| (n in
  units of leaves, μ the mean feature). Prefers compact, balanced clusters: the parts of a
  smooth organic shape (limbs, head, torso) where feature boundaries are soft.

Which one a point cloud gets is decided by its surface (:mod:`core.surface`): clean
one-sheet surfaces (scans, sculpts, one-piece organic meshes) use ``ward``; clouds sampled
from assembled assets (thin double-sided plates, internal faces, many small pieces) use
``average``. Merge heights h are mapped to p = h / (h + t), t the linkage's
``*_threshold``, so the tree's natural cut (``TreeSettings.cut_threshold`` 0.5) undoes the
merges above t, and every :class:`core.merge_tree.MergeTree` query (cut at a scale, nested
cuts) works unchanged. Numbers behind the defaults: README design item 10.

Pure numpy + SciPy's ``cKDTree`` (the extension's SciPy stand-in provides it in Blender).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .agglomerate import Agglomeration
from .geometry import farthest_point_sampling, pair_dots
from .merge_tree import DISCONNECTED, MergeTree, TreeSettings

LINKAGES = ("average", "ward")


@dataclass(frozen=True)
class PointTreeSettings:
    """How a point cloud's merge tree is built and read.

    Attributes:
        num_leaves: farthest-point seeds whose Voronoi cells are the leaves (fewer when the
            cloud has fewer points). More leaves: finer boundaries, slower build.
        neighbours: k of the seeds' k-nearest-neighbour graph (made symmetric); only
            neighbouring clusters merge until the graph's pieces are joined, nearest
            centroids first.
        linkage: "auto" (``ward`` on one-sheet clouds, else ``average``; see
            :mod:`core.surface`), "average" or "ward".
        average_threshold, ward_threshold: t of each linkage: the natural cut (Segment All
            without a scale) cuts the merges higher than t (mean cosine distance for
            ``average``, Ward distance of unit features for ``ward``). Chosen on the dev
            sets with the 0.850 encoder (README design item 10); re-checked for the 0.863
            encoder on 120 held-out generated objects (finest level, leaf mIoU at 0.5 /
            0.75 / 1 / 1.5 / 2 × these values): pieces 29.1 / 30.7 / 30.5 / 26.2 / 21.3,
            one sheet 25.8 / 25.5 / 24.6 / 22.2 / 19.0 (0.850 encoder: 28.2 / 29.8 /
            28.9 / 24.3 / 20.6 and 25.2 / 23.7 / 23.6 / 21.9 / 18.7): the same shape, so
            kept. Its neighbouring points' median cosine distance is unchanged (0.00093
            vs 0.00095).
        seed: seed of the farthest-point seeds.
    """

    num_leaves: int = 2048
    neighbours: int = 10
    linkage: str = "auto"
    average_threshold: float = 0.021
    ward_threshold: float = 4.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.linkage not in ("auto",) + LINKAGES:
            raise ValueError(f"PointTreeSettings.linkage must be auto, average or ward, "
                             f"got {self.linkage!r}")
        if self.num_leaves < 1 or self.neighbours < 1:
            raise ValueError("PointTreeSettings: num_leaves and neighbours must be ≥ 1")
        if min(self.average_threshold, self.ward_threshold) <= 0:
            raise ValueError("PointTreeSettings: thresholds must be > 0")


def choose_linkage(s: PointTreeSettings, one_sheet: bool) -> str:
    """The linkage ``s`` asks for; "auto" follows the surface kind ``one_sheet``."""
    if s.linkage != "auto":
        return s.linkage
    return "ward" if one_sheet else "average"


@dataclass
class PointTree:
    """The merge tree of one point cloud.

    Attributes:
        tree: :class:`core.merge_tree.MergeTree` over the leaves (shares are point shares).
        leaf_of_point: (N,) int64 leaf (Voronoi cell) of every point.
        linkage: the linkage used.
    """

    tree: MergeTree
    leaf_of_point: np.ndarray
    linkage: str


def _ward(sa: np.ndarray, na: float, sb: np.ndarray, nb: np.ndarray) -> np.ndarray:
    """Ward distances between cluster (feature sum sa, size na) and clusters (sb (K, D),
    nb (K,))."""
    d = sb / nb[:, None] - sa / na
    return np.sqrt(2.0 * na * nb / (na + nb) * np.einsum("kd,kd->k", d, d))


def build_point_tree(xyz_norm: np.ndarray, features: np.ndarray,
                     settings: PointTreeSettings, tree_settings: TreeSettings,
                     one_sheet: bool) -> PointTree:
    """Build the merge tree of a point cloud.

    Args:
        xyz_norm: (N, 3) points in the model frame.
        features: (N, D) encoder features (any scale; L2-normalised here).
        settings: see :class:`PointTreeSettings`.
        tree_settings: how the tree is read (:class:`core.merge_tree.TreeSettings`; its
            ``cut_threshold`` is the p of the natural cut, 0.5 = the linkage threshold).
        one_sheet: the cloud's surface kind (:func:`core.surface.is_one_sheet`).
    """
    x = np.asarray(xyz_norm, np.float64)
    f = np.asarray(features, np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    n = len(x)
    m = max(1, min(settings.num_leaves, n))
    seeds = farthest_point_sampling(x, m, seed=settings.seed)
    leaf = cKDTree(x[seeds]).query(x)[1].astype(np.int64)
    count = np.bincount(leaf, minlength=m).astype(np.float64)
    if (count == 0).any():  # duplicate points: seeds that won no point are dropped
        kept = np.flatnonzero(count > 0)
        seeds, count = seeds[kept], count[kept]
        leaf = np.searchsorted(kept, leaf)
        m = len(kept)
    linkage = choose_linkage(settings, one_sheet)
    t = settings.average_threshold if linkage == "average" else settings.ward_threshold
    n_nodes = 2 * m - 1
    size = np.zeros(n_nodes)  # points (average) or leaves (ward) per cluster
    size[:m] = count if linkage == "average" else count * m / n
    fsum = np.zeros((n_nodes, f.shape[1]))
    np.add.at(fsum, leaf, f)
    if linkage == "ward":
        fsum[:m] *= (m / n)
    cen = np.zeros((m, 3))
    np.add.at(cen, leaf, x)
    cen /= np.maximum(count, 1.0)[:, None]
    agg = Agglomeration(count / n, cen)
    dist: list[dict[int, float]] = [dict() for _ in range(n_nodes)]  # linkage to nbrs
    if m > 1:
        k = min(settings.neighbours + 1, m)
        _, nb = cKDTree(x[seeds]).query(x[seeds], k)
        rows = np.repeat(np.arange(m), k - 1)
        cols = nb[:, 1:].ravel()
        keep = rows != cols
        pairs = np.unique(np.sort(np.stack([rows[keep], cols[keep]], 1), axis=1), axis=0)
        if linkage == "average":
            unit = fsum[:m] / np.maximum(np.linalg.norm(fsum[:m], axis=1, keepdims=True),
                                         1e-300)
            hs = np.maximum(1.0 - pair_dots(unit, pairs[:, 0], pairs[:, 1]), 0.0)
        else:
            a_, b_ = pairs[:, 0], pairs[:, 1]
            d = fsum[b_] / size[b_, None] - fsum[a_] / size[a_, None]
            hs = np.sqrt(2.0 * size[a_] * size[b_] / (size[a_] + size[b_])
                         * np.einsum("kd,kd->k", d, d))
        for (a, b), h in zip(pairs.tolist(), hs.tolist()):
            dist[a][b] = dist[b][a] = h
    heap = [(h, a, b) for a in range(m) for b, h in dist[a].items() if a < b]
    heapq.heapify(heap)
    height = agg.height

    def merge(a: int, b: int, h: float) -> None:
        # heights kept monotone, so cuts are nested
        c = agg.merge(a, b, max(h, height[a], height[b]))
        na, nb_ = size[a], size[b]
        size[c], fsum[c] = na + nb_, fsum[a] + fsum[b]
        others = (dist[a].keys() | dist[b].keys()) - {a, b}
        if linkage == "average":  # size-weighted mean of the known linkages (UPGMA)
            new = {}
            for o in others:
                da, db = dist[a].get(o), dist[b].get(o)
                new[o] = (da if db is None else db if da is None
                          else (na * da + nb_ * db) / (na + nb_))
        else:
            os_ = np.fromiter(others, np.int64, len(others))
            new = dict(zip(os_.tolist(), _ward(fsum[c], size[c], fsum[os_], size[os_])
                           .tolist())) if len(os_) else {}
        for o, hh in new.items():
            dist[o].pop(a, None)
            dist[o].pop(b, None)
            dist[o][c] = hh
            heapq.heappush(heap, (hh, o, c))
        dist[c] = new
        dist[a], dist[b] = {}, {}

    while heap:
        h, a, b = heapq.heappop(heap)
        if agg.alive[a] and agg.alive[b]:
            merge(a, b, h)
    # unconnected pieces of the graph: nearest centroids first, at p = DISCONNECTED
    joins = agg.join_pieces(0.0)
    p = height / (height + t)
    p[joins] = DISCONNECTED
    # the mesh trees' former re-cut of big smooth parts was never used here (dev set,
    # natural cut leaf mIoU with it, PartNet-Mobility / PSB: 30.7 / 51.1; without: 34.0 /
    # 50.9); nor is the one-piece consensus (:mod:`core.consensus`)
    tree = agg.tree(tree_settings, height=np.clip(p, 0.0, 1.0))
    return PointTree(tree=tree, leaf_of_point=leaf, linkage=linkage)
