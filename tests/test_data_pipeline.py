"""The paper's annotation pipeline: area-ratio levels and DBSCAN connectivity refinement."""

from __future__ import annotations

import numpy as np

from training.data.build import sample_labeled
from training.data.parts import flatten, levels_nest, tree_levels
from training.data.pipeline import PipelineSettings, area_ratio_levels, split_disconnected
from training.data.procedural import make_object


def _blob(rng, centre, n, r=0.1):
    d = rng.normal(size=(n, 3))
    return centre + r * d / np.linalg.norm(d, axis=1, keepdims=True)  # points on a sphere


def test_area_ratio_levels_cover_every_point_once_and_nest():
    flat = flatten(make_object("cabinet", 3))
    pts, _, lab = sample_labeled(flat.vertices, flat.faces, flat.face_leaf,
                                 tree_levels(flat), 4000, 0)
    leaf = lab[0]
    levels = area_ratio_levels(pts, leaf, PipelineSettings(), rng=np.random.default_rng(0))
    assert levels.shape[1] == len(pts) and levels.shape[0] >= 2
    assert levels_nest(levels)
    for lvl in levels:  # one label per point, ids 0..P-1 all used
        assert lvl.min() == 0 and len(np.unique(lvl)) == lvl.max() + 1
    parts = [len(np.unique(x)) for x in levels]
    assert parts == sorted(parts, reverse=True) and parts[-1] >= 2
    # coarser levels meet their area targets: smallest part grows level by level
    smallest = [np.bincount(x).min() / len(pts) for x in levels]
    assert smallest[-1] > smallest[0]
    # slivers are gone from level 0 (unless merging would leave < 2 parts)
    assert np.bincount(levels[0]).min() / len(pts) >= PipelineSettings().min_fraction


def test_area_ratio_merges_touching_parts_first():
    rng = np.random.default_rng(0)
    big = _blob(rng, np.zeros(3), 3000, 0.5)
    knob = _blob(rng, np.array([0.55, 0, 0]), 60, 0.06)  # touches the big sphere
    far = _blob(rng, np.array([3.0, 0, 0]), 2000, 0.4)   # a separate body
    pts = np.concatenate([big, knob, far])
    lab = np.repeat([0, 1, 2], [3000, 60, 2000])
    levels = area_ratio_levels(pts, lab, PipelineSettings(thresholds=(0.05,), jitter=1.0))
    assert len(np.unique(levels[0])) == 3
    coarse = levels[-1]
    assert coarse[3000] == coarse[0] != coarse[-1]  # the knob joined the body it touches


def test_dbscan_splits_far_blobs_and_keeps_connected_part_whole():
    rng = np.random.default_rng(1)
    a = _blob(rng, np.zeros(3), 800)
    b = _blob(rng, np.array([2.0, 0, 0]), 800)
    # a long connected rod (a single part): dense points along a thin cylinder
    t = rng.uniform(0, 3, 1500)
    ang = rng.uniform(0, 2 * np.pi, 1500)
    rod = np.stack([t, 3 + 0.05 * np.cos(ang), 0.05 * np.sin(ang)], 1)
    pts = np.concatenate([a, b, rod])
    labels = np.array([0] * 1600 + [1] * 1500)  # blobs share label 0
    out = split_disconnected(pts, labels)
    assert out[0] != out[800], "two far blobs with one label must be split"
    assert len(np.unique(out[:800])) == 1 and len(np.unique(out[800:1600])) == 1
    assert len(np.unique(out[1600:])) == 1, "a connected part must stay whole"
    assert len(np.unique(out)) == 3


def test_dbscan_within_labels_matches_sklearn():
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import adjusted_rand_score

    from training.data.pipeline import dbscan_within_labels

    rng = np.random.default_rng(3)
    pts = rng.uniform(size=(3000, 3)) * [1, 1, 0.05]
    lab = (pts[:, 0] * 3).astype(int)
    ours = dbscan_within_labels(pts, lab, 0.03, 4)
    ref = np.full(len(pts), -1)
    off = 0
    for part in np.unique(lab):
        i = np.flatnonzero(lab == part)
        c = DBSCAN(eps=0.03, min_samples=4).fit_predict(pts[i])
        ref[i] = np.where(c >= 0, c + off, -1)
        off = ref.max() + 1
    assert ((ours == -1) == (ref == -1)).all()
    # border points reachable from two clusters may go to either (as in sklearn's docs)
    assert adjusted_rand_score(ours, ref) > 0.99


def test_refinement_splits_the_finest_level_only_and_keeps_nesting():
    from training.data.pipeline import refine_levels

    rng = np.random.default_rng(2)
    body = _blob(rng, np.zeros(3), 3000, 0.5)
    leg_a = _blob(rng, np.array([2.0, 0, 0]), 600, 0.1)
    leg_b = _blob(rng, np.array([-2.0, 0, 0]), 600, 0.1)
    pts = np.concatenate([body, leg_a, leg_b])
    fine = np.repeat([0, 1, 1], [3000, 600, 600])  # both legs share one leaf label
    coarse = np.repeat([0, 1, 1], [3000, 600, 600])  # ... and one coarse "leg set"
    out = refine_levels(pts, np.stack([fine, coarse]), PipelineSettings())
    assert levels_nest(out)
    assert len(np.unique(out[0])) == 3 and out[0][3000] != out[0][3600]
    assert len(np.unique(out[1])) == 2 and out[1][3000] == out[1][3600]
