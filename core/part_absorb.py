"""Segment All's smallest-part rule: parts of a tree cut merged into their neighbours.

Used by :class:`core.mesh_parts.MeshParts` for Segment All at a scale, hierarchies (within
each coarser part) and part counts.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .merge_tree import MergeTree
from .superfaces import Superfaces


def absorb_parts(t: MergeTree, sf: Superfaces, nodes: np.ndarray, min_share: float,
                 group: np.ndarray | None, max_parts: int | None = None) -> list[np.ndarray]:
    """Parts (a cut of the tree ``t`` over the superfaces ``sf``) merged one at a time, the
    smallest first, while one is below ``min_share`` or more than ``max_parts`` remain:
    it joins the part it shares the most boundary (or contact) with, or the part of the
    nearest superface (centroids) when it touches none. With ``group`` (leaf labels of
    a coarser level) only parts of the same coarser part merge; a part alone in its
    group stays. Returns a list of node arrays, one per part."""
    nodes = np.asarray(nodes, np.int64)
    k = len(nodes)
    limit = k if max_parts is None else int(max_parts)
    parts = [[int(n)] for n in nodes]
    if (min_share <= 0 and k <= limit) or k < 2:
        return [np.asarray(p, np.int64) for p in parts]
    lab = t.labels_of_cut(nodes)
    share = t.share[nodes].astype(np.float64)
    pg = np.zeros(k, np.int64)
    if group is not None:
        pg[lab] = group  # every leaf of a part lies in the same coarser part
    a, b = lab[sf.pairs[:, 0]], lab[sf.pairs[:, 1]]
    x = (a != b) & (pg[a] == pg[b])
    bound: list[dict[int, float]] = [{} for _ in range(k)]  # shared boundary per pair
    for i, j, w in zip(a[x].tolist(), b[x].tolist(),
                       (sf.boundary + np.sqrt(sf.contact))[x].tolist()):
        bound[i][j] = bound[i].get(j, 0.0) + w
        bound[j][i] = bound[j].get(i, 0.0) + w
    alive, stuck = np.ones(k, bool), np.zeros(k, bool)
    while alive.sum() > 1:
        want = alive & ~stuck & ((share < min_share) | (alive.sum() > limit))
        cand = np.flatnonzero(want)
        if not len(cand):
            break
        p = int(cand[np.argmin(share[cand])])
        mates = alive & (pg == pg[p])
        mates[p] = False
        if not mates.any():
            stuck[p] = True
            continue
        if bound[p]:
            q = max(bound[p], key=lambda c: (bound[p][c], -c))
        else:  # a piece no edge reaches: the part of the nearest superface
            d = cKDTree(sf.centroid[lab == p]).query(sf.centroid)[0]
            d[~mates[lab]] = np.inf
            q = int(lab[np.argmin(d)])
        parts[q] += parts[p]
        share[q] += share[p]
        for c, w in bound[p].items():  # p's boundaries become q's
            del bound[c][p]
            if c != q:
                bound[q][c] = bound[q].get(c, 0.0) + w
                bound[c][q] = bound[c].get(q, 0.0) + w
        bound[p] = {}
        lab[lab == p] = q
        alive[p] = False
    return [np.asarray(parts[i], np.int64) for i in np.flatnonzero(alive)]
