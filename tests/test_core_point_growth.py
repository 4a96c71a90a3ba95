"""Click + scale on point clouds: the growth over the k-NN graph (core.point_growth)."""

from __future__ import annotations

import numpy as np
import pytest
from core_infer_fake import make_segmenter

from core.point_growth import PointGrowth, PointGrowthSettings


def _two_parts(n_side: int = 40):
    """A flat 2 × 1 sheet of grid points; features say 'left part' or 'right part'."""
    xs, ys = np.meshgrid(np.linspace(-1, 1, 2 * n_side), np.linspace(-0.5, 0.5, n_side))
    xyz = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)
    left = xyz[:, 0] < 0
    feats = np.where(left[:, None], [1.0, 0.0], [0.0, 1.0])
    return xyz, feats, left


def test_the_selection_stops_at_a_feature_border_where_a_ball_crosses_it():
    xyz, feats, left = _two_parts()
    click = int(np.argmin(np.linalg.norm(xyz - [-0.1, 0.0, 0.0], axis=1)))  # near the border
    grow = PointGrowth(xyz, feats, PointGrowthSettings())
    m = grow.mask(np.array([click]), np.array([], np.int64), 0.5)
    assert m.sum() == left.sum() and (m == left).all()  # exactly the clicked part
    ball = PointGrowth(xyz, feats, PointGrowthSettings(feature_weight=0.0))
    b = ball.mask(np.array([click]), np.array([], np.int64), 0.5)
    assert (b & ~left).sum() > 0.2 * left.sum()  # the ball spills into the other part
    assert 0 <= ball.quality(b) < grow.quality(m) <= 1  # a sharp border scores higher


def test_the_slider_is_monotone_and_gives_the_share_asked_for():
    xyz, feats, _ = _two_parts()
    grow = PointGrowth(xyz, feats, PointGrowthSettings())
    prev = None
    for s in (0.01, 0.1, 0.3, 0.5, 0.7, 1.0):
        m = grow.mask(np.array([5]), np.array([], np.int64), s)
        assert m.sum() == max(round(s * len(xyz)), 1) and m[5]
        if prev is not None:
            assert (prev <= m).all()
        prev = m


def test_a_negative_click_keeps_its_side_out():
    xyz, feats, left = _two_parts()
    a = int(np.argmin(np.linalg.norm(xyz - [-0.9, 0.0, 0.0], axis=1)))
    b = int(np.argmin(np.linalg.norm(xyz - [0.9, 0.0, 0.0], axis=1)))
    m = PointGrowth(xyz, feats, PointGrowthSettings()).mask(np.array([a]), np.array([b]), 1.0)
    assert m[left].all() and not m[~left].any()


def test_bad_settings_are_refused():
    xyz, feats, _ = _two_parts(4)
    with pytest.raises(ValueError, match="feature_weight"):
        PointGrowth(xyz, feats, PointGrowthSettings(feature_weight=-1.0))
    with pytest.raises(ValueError, match="neighbours"):
        PointGrowth(xyz, feats, PointGrowthSettings(neighbours=0))


def test_segmenter_answers_point_clouds_with_a_scale_by_growth(monkeypatch):
    seg = make_segmenter(monkeypatch)
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(2000, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    seg.set_points(pts)
    i = seg.nearest_point([0.0, 0.0, 1.0])
    masks = [seg.predict([(i, True)], scale=s).point_mask for s in (0.05, 0.2, 0.6)]
    for s, m in zip((0.05, 0.2, 0.6), masks):
        assert m.sum() == round(s * 2000) and m[i]
    assert (masks[0] <= masks[1]).all() and (masks[1] <= masks[2]).all()
    cap = seg.points[masks[1]]
    assert cap[:, 2].min() > 0.3  # a cap around the click, not scattered points


def test_edge_dissimilarities_are_chunked_without_changing_them():
    """pair_dots (chunked) gives the plain row-wise dot products of any pairs."""
    from core.geometry import pair_dots

    rng = np.random.default_rng(0)
    f = rng.standard_normal((500, 16))
    i, j = rng.integers(0, 500, 3000), rng.integers(0, 500, 3000)
    np.testing.assert_allclose(pair_dots(f, i, j, chunk=7), (f[i] * f[j]).sum(axis=1),
                               rtol=1e-12, atol=1e-12)
