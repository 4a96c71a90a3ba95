"""Training queries of stage 2: a target part, its scale, and the clicks that ask for it.

A query (:func:`sample_query`) picks a hierarchy level, then a part at that level (parts
smaller than ``min_fraction`` of the object are skipped when anything else exists); the
target mask is that part and its scale is its point fraction (the paper's definition).
Clicks (:func:`sample_clicks`) follow the authors' selector: with probability
``interior_prob`` the positive click is drawn among the part's most interior points
(score 0.5·(1 − d_centre) + 0.5·d_other, min-max normalised, see
:func:`training.selectors.interior_scores`), otherwise uniformly inside the part; with
probability ``multi_prob`` extra positive clicks and negative clicks on other parts are
added (negatives prefer points near the part, where a user would click to trim a mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .selectors import interior_scores


@dataclass
class PromptConfig:
    """How training queries are drawn.

    Attributes:
        min_fraction: parts covering less than this fraction of the points are not used as
            targets (unless nothing else is left).
        interior_prob: probability that the first positive click is interior-favoured.
        interior_top: the interior click is drawn uniformly among this top fraction of the
            part's points by interior score.
        multi_prob: probability of a multi-click query.
        max_extra_pos: up to this many extra positive clicks in a multi-click query.
        max_neg: up to this many negative clicks (on other parts) in a multi-click query.
        max_clicks: prompt slots per query (padding label −1 fills unused slots).
    """

    min_fraction: float = 0.002
    interior_prob: float = 0.6
    interior_top: float = 0.15
    multi_prob: float = 0.3
    max_extra_pos: int = 2
    max_neg: int = 2

    @property
    def max_clicks(self) -> int:
        return 1 + self.max_extra_pos + self.max_neg


def sample_query(
    labels: np.ndarray, num_levels: int, rng: np.random.Generator, cfg: PromptConfig
) -> tuple[int, int, np.ndarray, float]:
    """Pick (level, part id, target mask (N,) bool, scale) for one object.

    Args:
        labels: (L, N) part ids per level.
        num_levels: real levels (the first ``num_levels`` rows are used).
    """
    lev = int(rng.integers(max(1, int(num_levels))))
    row = labels[lev]
    ids, counts = np.unique(row, return_counts=True)
    frac = counts / row.shape[0]
    ok = frac >= cfg.min_fraction
    if ok.any():
        ids, frac = ids[ok], frac[ok]
    j = int(rng.integers(len(ids)))
    mask = row == ids[j]
    return lev, int(ids[j]), mask, float(frac[j])


def sample_clicks(
    xyz: np.ndarray, mask: np.ndarray, rng: np.random.Generator, cfg: PromptConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Clicks of one query: indices (max_clicks,) int64 and labels (max_clicks,) float32
    (1 positive, 0 negative, −1 padding; the first slot is always a positive click)."""
    idx = np.zeros(cfg.max_clicks, np.int64)
    lab = np.full(cfg.max_clicks, -1.0, np.float32)
    inside = np.flatnonzero(mask)
    outside = np.flatnonzero(~mask)
    tree = cKDTree(xyz[outside]) if len(outside) else None
    if rng.random() < cfg.interior_prob:
        scores = interior_scores(xyz, mask, tree)
        top = max(1, int(round(cfg.interior_top * len(inside))))
        best = np.argpartition(-scores, top - 1)[:top]
        idx[0] = inside[int(rng.choice(best))]
    else:
        idx[0] = int(rng.choice(inside))
    lab[0] = 1.0
    if rng.random() < cfg.multi_prob:
        k = 1
        n_pos = int(rng.integers(0, cfg.max_extra_pos + 1))
        for p in rng.choice(inside, size=min(n_pos, len(inside)), replace=False):
            idx[k], lab[k] = int(p), 1.0
            k += 1
        n_neg = int(rng.integers(0 if n_pos else 1, cfg.max_neg + 1))
        if n_neg and tree is not None:
            # negatives near the part: the outside points closest to random part points
            seeds = xyz[rng.choice(inside, size=n_neg)]
            _, near = tree.query(seeds, k=min(8, len(outside)))
            near = np.asarray(near).reshape(n_neg, -1)
            for row in near:
                idx[k], lab[k] = int(outside[int(rng.choice(row))]), 0.0
                k += 1
    return idx, lab
