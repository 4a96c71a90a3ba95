"""Segment All into a number of parts the user asks for.

Without a count, Segment All reads the superface merge tree (:mod:`core.merge_tree`): its
natural cut or the cut closest to a scale. Asked for exactly k parts, that tree answers
poorly: its top merges are between whatever was left, and on the dev sets undoing its last
k − 1 merges scored far below its own natural cut (README design item 15). A count gets
its own tree, built for balanced splits:

1. **Spectral embedding** of the superface graph (normalised cuts): edge weights
   ``w = (boundary + √contact) · exp(−(dissimilarity / sigma)²)`` (the learned
   dissimilarity of :mod:`core.affinity`), the ``dims`` eigenvectors of the normalised
   Laplacian after the constant one, each divided by √(its eigenvalue) and every row
   scaled to unit length.
2. **Ward agglomeration** of the embedded superfaces, neighbours in the graph only:
   the merge that least increases the within-cluster spread (clusters count their
   superfaces), n_a·n_b / (n_a + n_b) · |μ_a − μ_b|².
3. **The count cut**: the clusters left after all but the last k − 1 merges
   (:func:`count_cut`). Every k gives a cut nested in the cut of k − 1. With a smallest
   part size (``SegmentAllSettings.min_mesh_part_fraction`` / ``min_part_fraction``),
   only parts at least that large count: the fewest further merges are undone until k
   of them are (:func:`count_cut_min_share`), and the caller folds the smaller ones into
   their neighbours.

The same count cut reads the point-cloud merge tree (:mod:`core.point_tree`), whose merges
are also numbered in merge order. Pure numpy (a dense eigendecomposition of an S × S
matrix, S the number of superfaces: a few hundred, at most ~2,000).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from .agglomerate import Agglomeration
from .merge_tree import DISCONNECTED, MergeTree, TreeSettings


@dataclass(frozen=True)
class CountSettings:
    """How the tree for a part count is built (see the module docstring).

    Attributes:
        dims: eigenvectors of the embedding (after the constant one).
        sigma: dissimilarity scale of the edge weights: an edge of dissimilarity
            ``sigma`` keeps e^-1 of its boundary weight, one of 2 × ``sigma`` e^-4.

    Chosen on held-out generated objects (120 voxel-fused one-piece objects of seed 1,011,
    k = each level's true count, area-weighted leaf mIoU finest / mean over levels; README
    design item 15): dims 4 / 8 / 16 at sigma 0.1 → 30.1 / 40.7, 30.3 / 41.3, 30.6 /
    41.8; sigma 0.2 / 0.4 at 16 dims → 28.8 / 39.7, 26.4 / 37.8; 8 dims, sigma 0.2 →
    28.5 / 39.7. Not the dev sets.
    """

    dims: int = 16
    sigma: float = 0.1


def check_count(num_parts: object, scale: float | None = None) -> int:
    """The part count as an int ≥ 1, or a ValueError that names the value (also when a
    ``scale`` is given with it: a count and a scale are two ways to ask)."""
    if scale is not None:
        raise ValueError("segment_all takes a scale or num_parts, not both "
                         f"(got scale={scale}, num_parts={num_parts!r})")
    if isinstance(num_parts, bool) or not isinstance(num_parts, (int, np.integer)):
        raise ValueError(f"num_parts must be a whole number of parts (≥ 1), "
                         f"got {num_parts!r}")
    if int(num_parts) < 1:
        raise ValueError(f"num_parts must be at least 1, got {int(num_parts)}")
    return int(num_parts)


def spectral_embedding(num: int, pairs: np.ndarray, weight: np.ndarray,
                       dissimilarity: np.ndarray, settings: CountSettings) -> np.ndarray:
    """(num, dims) unit rows: the normalised-cut embedding of a weighted graph.

    Args:
        num: number of nodes S.
        pairs: (G, 2) node pairs (graph edges).
        weight: (G,) non-negative edge weights (e.g. boundary length + √contact).
        dissimilarity: (G,) probability in [0, 1] that an edge separates two parts.
        settings: :class:`CountSettings`.
    """
    dims = max(1, min(int(settings.dims), num - 1))
    if num < 2:
        return np.ones((num, 1))
    sig = max(float(settings.sigma), 1e-6)
    w = np.asarray(weight, np.float64) * np.exp(-(np.asarray(dissimilarity) / sig) ** 2)
    w = np.maximum(w, 1e-12)  # an edge never vanishes: the graph keeps its pieces
    a, b = pairs[:, 0], pairs[:, 1]
    keep = a != b
    mat = np.zeros((num, num))
    np.add.at(mat, (a[keep], b[keep]), w[keep])
    np.add.at(mat, (b[keep], a[keep]), w[keep])
    deg = mat.sum(axis=1)
    inv = 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0))
    lap = np.eye(num) - inv[:, None] * mat * inv[None, :]
    val, vec = np.linalg.eigh(lap)
    emb = vec[:, 1:dims + 1] / np.sqrt(np.maximum(val[1:dims + 1], 1e-6))
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def ward_tree(embedding: np.ndarray, share: np.ndarray, pairs: np.ndarray,
              centroid: np.ndarray, settings: TreeSettings | None = None) -> MergeTree:
    """Connectivity-constrained Ward agglomeration of embedded nodes.

    Only graph neighbours merge, the pair with the smallest Ward cost first; pieces no
    edge connects are joined last, nearest ``centroid`` first (height
    ``DISCONNECTED``). Heights are the Ward costs mapped to [0, 1) by h / (h + median h)
    (the count cut reads the merge order, not the heights).

    Args:
        embedding: (S, D) node coordinates (e.g. :func:`spectral_embedding`).
        share: (S,) area share of each node (the tree's shares).
        pairs: (G, 2) graph edges.
        centroid: (S, 3) positions that order the joins of unconnected pieces.
        settings: :class:`TreeSettings` stored with the tree.
    """
    num = len(share)
    agg = Agglomeration(np.asarray(share, np.float64), np.asarray(centroid, np.float64))
    n_nodes = len(agg.parent)
    size = np.zeros(n_nodes)
    size[:num] = 1.0
    mean = np.zeros((n_nodes, embedding.shape[1]))
    mean[:num] = embedding
    nb: list[set[int]] = [set() for _ in range(n_nodes)]
    for a, b in pairs.tolist():
        if a != b:
            nb[a].add(b)
            nb[b].add(a)

    def cost(a: int, b: int) -> float:
        d = mean[a] - mean[b]
        return size[a] * size[b] / (size[a] + size[b]) * float(d @ d)

    heap = [(cost(a, b), a, b) for a in range(num) for b in nb[a] if a < b]
    heapq.heapify(heap)
    raw = np.zeros(n_nodes)
    while heap:
        h, a, b = heapq.heappop(heap)
        if not (agg.alive[a] and agg.alive[b]):
            continue
        m = agg.merge(a, b, h)
        raw[m] = h
        size[m] = size[a] + size[b]
        mean[m] = (mean[a] * size[a] + mean[b] * size[b]) / size[m]
        nb[m] = (nb[a] | nb[b]) - {a, b}
        for c in nb[m]:
            nb[c] -= {a, b}
            nb[c].add(m)
            heapq.heappush(heap, (cost(c, m), min(c, m), max(c, m)))
        nb[a], nb[b] = set(), set()
    first_join = agg.next
    agg.join_pieces(DISCONNECTED)
    inner = raw[num:first_join]
    med = float(np.median(inner)) if len(inner) else 1.0
    height = np.where(np.arange(n_nodes) < first_join, raw / (raw + max(med, 1e-12)),
                      DISCONNECTED)
    height[:num] = 0.0
    return agg.tree(settings if settings is not None else TreeSettings(), height=height)


def count_cut(tree: MergeTree, num_parts: int) -> np.ndarray:
    """Nodes (sorted) of the clusters left after all but the last ``num_parts`` − 1 merges
    of ``tree`` (merges numbered in merge order, as :class:`Agglomeration` numbers them).
    Asking for more parts than the tree has leaves gives every leaf."""
    s = tree.num_leaves
    k = max(1, min(int(num_parts), s))
    limit = 2 * s - k  # nodes below this id exist after the first s − k merges
    ids = np.arange(limit)
    par = tree.parent[:limit]
    return ids[(par < 0) | (par >= limit)]


def count_cut_min_share(tree: MergeTree, num_parts: int, min_share: float
                        ) -> tuple[np.ndarray, bool]:
    """The count cut in which ``num_parts`` clusters have a share (``tree.share``: of the
    area on meshes, of the points on point clouds) of at least ``min_share``: the
    smallest k' ≥ ``num_parts`` whose :func:`count_cut` has that many such clusters, and
    True; when no k' has, the smallest k' with the most of them, and False. The smaller
    clusters come with it; the caller absorbs them. ``min_share`` ≤ 0 is the plain
    :func:`count_cut`."""
    if min_share <= 0:
        return count_cut(tree, num_parts), True
    s = tree.num_leaves
    floor = min_share - 1e-12  # shares are sums of per-leaf floats
    best_k, best_n = 1, -1
    for k in range(min(max(1, int(num_parts)), s), s + 1):
        nodes = count_cut(tree, k)
        n_big = int((tree.share[nodes] >= floor).sum())
        if n_big >= num_parts:
            return nodes, True
        if n_big > best_n:
            best_k, best_n = k, n_big
    return count_cut(tree, best_k), False
