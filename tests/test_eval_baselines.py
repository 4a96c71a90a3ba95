"""Baselines on hand-made point sets whose right answer is obvious."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from training.baselines import BaselineSettings, agglo_labels, ball_mask


def _two_blobs(n: int = 3000):
    """Two touching slabs along x; their features differ (what a good encoder would give)."""
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1, (n, 3)) * [2.0, 1.0, 0.2]
    side = pts[:, 0] > 1.0
    feats = np.where(side[:, None], [1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0])
    feats = feats + 0.05 * rng.normal(size=(n, 4))
    return pts, feats, side


def test_agglo_separates_parts_whose_features_differ_also_when_subsampled():
    pts, feats, side = _two_blobs()
    for max_points in (0, 500):  # every point / 500 farthest-point samples + nearest label
        s = replace(BaselineSettings(), agglo_max_points=max_points)
        lab = agglo_labels(feats, pts, [1, 2], s)
        assert set(lab) == {1, 2} and lab[1].shape == lab[2].shape == (len(pts),)
        assert len(np.unique(lab[1])) == 1
        agree = max(np.mean(lab[2] == side), np.mean(lab[2] != side))
        assert agree > 0.98  # only points right at the seam may go either way


def test_ball_takes_the_nearest_fraction_of_points():
    pts = np.arange(10, dtype=np.float64)[:, None] * [1.0, 0.0, 0.0]
    mask = ball_mask(pts, 0, 0.3)
    assert np.flatnonzero(mask).tolist() == [0, 1, 2]
    assert ball_mask(pts, 5, 0.0).sum() == 1  # at least the clicked point
