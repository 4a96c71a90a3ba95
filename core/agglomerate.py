"""Building merge trees: the bookkeeping every agglomeration shares, and the superface tree.

:class:`Agglomeration` holds a binary tree under construction (leaves ``0..S-1``, node
``S + k`` the k-th merge) and does what every greedy agglomeration does the same way: a
merge's children, parent, area share, height and centroid; joining the pieces no graph edge
connects, nearest centroids first; handing the result to :class:`core.merge_tree.MergeTree`
for its queries. The linkages differ and stay with their builders:
:func:`build_merge_tree` here (superfaces, mean boundary dissimilarity) and
:func:`core.point_tree.build_point_tree` (point-cloud cells, encoder-feature linkages).
"""

from __future__ import annotations

import heapq

import numpy as np

from .merge_tree import DISCONNECTED, MergeTree, TreeSettings


class Agglomeration:
    """A binary merge tree under construction.

    Args:
        share: (S,) share of each leaf (area or points; sums to about 1).
        centroid: (S, 3) centroid of each leaf (any frame; only distances between
            centroids are used, to join unconnected pieces).
    """

    def __init__(self, share: np.ndarray, centroid: np.ndarray) -> None:
        num = len(share)
        n_nodes = max(2 * num - 1, 0)
        self.num = num
        self.children = np.full((n_nodes, 2), -1, np.int64)
        self.parent = np.full(n_nodes, -1, np.int64)
        self.share = np.zeros(n_nodes)
        self.share[:num] = share
        self.height = np.zeros(n_nodes)
        self.centroid = np.zeros((n_nodes, 3))
        self.centroid[:num] = centroid
        self.alive = np.zeros(n_nodes, bool)
        self.alive[:num] = True
        self.next = num

    def merge(self, a: int, b: int, height: float) -> int:
        """Join the live nodes ``a`` and ``b`` at ``height``; returns the new node's id. Its
        centroid is the share-weighted mean of theirs."""
        c = self.next
        self.next += 1
        sa, sb = max(self.share[a], 1e-12), max(self.share[b], 1e-12)
        self.children[c] = (a, b)
        self.parent[a] = self.parent[b] = c
        self.share[c] = self.share[a] + self.share[b]
        self.height[c] = height
        self.centroid[c] = (self.centroid[a] * sa + self.centroid[b] * sb) / (sa + sb)
        self.alive[a] = self.alive[b] = False
        self.alive[c] = True
        return c

    def join_pieces(self, height: float) -> list[int]:
        """Join the remaining roots (pieces no graph edge connected) into one tree, the two
        nearest centroids first, each join at ``height``; returns the new nodes."""
        rest = [int(i) for i in np.flatnonzero(self.alive[:self.next])]
        new: list[int] = []
        while len(rest) > 1:
            c = self.centroid[rest]
            d = np.linalg.norm(c[:, None] - c[None, :], axis=2)
            np.fill_diagonal(d, np.inf)
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            a, b = rest[i], rest[j]
            new.append(self.merge(a, b, height))
            rest = [x for x in rest if x not in (a, b)] + [new[-1]]
        return new

    def tree(self, settings: TreeSettings, height: np.ndarray | None = None,
             one_piece: bool = False) -> MergeTree:
        """The finished :class:`MergeTree` (``height`` overrides the merge heights, e.g.
        mapped to [0, 1]; ``one_piece`` see :attr:`MergeTree.one_piece`)."""
        return MergeTree(num_leaves=self.num, children=self.children, parent=self.parent,
                         share=self.share, height=self.height if height is None else height,
                         settings=settings, one_piece=one_piece)


def build_merge_tree(num: int, share: np.ndarray, pairs: np.ndarray, weight: np.ndarray,
                     dissimilarity: np.ndarray, centroid: np.ndarray,
                     settings: TreeSettings | None = None,
                     one_piece: bool = False) -> MergeTree:
    """Agglomerate ``num`` superfaces into a binary tree: the two neighbouring clusters whose
    shared boundary has the lowest mean dissimilarity (weighted by ``weight``) merge first
    (+ ``settings.compactness`` × Ward's increase of their spread); pieces with no graph
    edge between them are joined last, nearest first, at height ``DISCONNECTED``.

    Args:
        num: number of superfaces S (≥ 1).
        share: (S,) area share of each superface.
        pairs: (G, 2) graph edges (superface pairs).
        weight: (G,) positive weight of each edge in the boundary averages (e.g. the
            shared boundary length).
        dissimilarity: (G,) probability in [0, 1] that an edge separates two parts.
        centroid: (S, 3) superface centroids in units of √(total area) (compactness term;
            orders the merges of unconnected pieces).
        settings: :class:`TreeSettings` stored with the tree for its queries.
        one_piece: see :attr:`MergeTree.one_piece`.
    """
    agg = Agglomeration(np.asarray(share, np.float64)[:num], centroid)
    sh, cen = agg.share, agg.centroid
    nb: list[dict[int, list[float]]] = [dict() for _ in range(len(agg.parent))]
    for (a, b), w, p in zip(pairs.tolist(), np.maximum(weight, 1e-12).tolist(),
                            np.clip(dissimilarity, 0.0, 1.0).tolist()):
        if a == b:
            continue
        acc = nb[a].setdefault(b, [0.0, 0.0])
        acc[0] += w * p
        acc[1] += w
        nb[b][a] = acc
    st = settings if settings is not None else TreeSettings()
    lam = float(st.compactness)

    def key(acc: list[float], a: int, b: int) -> float:
        if lam == 0.0:
            return acc[0] / acc[1]
        d = cen[a] - cen[b]
        ward = sh[a] * sh[b] / max(sh[a] + sh[b], 1e-12) * float(d @ d)
        return acc[0] / acc[1] + lam * ward

    heap = [(key(acc, a, b), a, b) for a in range(num) for b, acc in nb[a].items() if a < b]
    heapq.heapify(heap)
    while heap:
        h, a, b = heapq.heappop(heap)
        if not (agg.alive[a] and agg.alive[b]):
            continue
        acc = nb[a].get(b)
        if acc is None or abs(key(acc, a, b) - h) > 1e-12:
            continue
        m = agg.merge(a, b, acc[0] / acc[1])
        merged: dict[int, list[float]] = {}
        for old in (a, b):  # the new cluster's boundary to each neighbour: summed
            for c, acc_o in nb[old].items():
                if c in (a, b):
                    continue
                tgt = merged.setdefault(c, [0.0, 0.0])
                tgt[0] += acc_o[0]
                tgt[1] += acc_o[1]
                del nb[c][old]
            nb[old] = {}
        nb[m] = merged
        for c, acc_m in merged.items():
            nb[c][m] = acc_m
            heapq.heappush(heap, (key(acc_m, c, m), min(c, m), max(c, m)))
    agg.join_pieces(DISCONNECTED)
    return agg.tree(st, one_piece=one_piece)
