"""The randomized-cuts consensus of one-piece meshes (``core.consensus``): which edges
random spectral cuts agree on, and what it changes for Segment All on a smooth mesh."""

from __future__ import annotations

import numpy as np
import pytest
from test_core_part_count import dumbbell

from core import Segmenter
from core.consensus import ConsensusSettings, consensus_dissimilarity


@pytest.fixture(scope="module")
def real():
    return Segmenter.from_pretrained(num_threads=2)


def _barbell(lobe: int = 40):
    """Two rings of ``lobe`` nodes with chords (dense lobes), joined by one thin edge."""
    pairs, weight = [], []
    for off in (0, lobe):
        for i in range(lobe):
            for j in (1, 2, 3):
                pairs.append((off + i, off + (i + j) % lobe))
                weight.append(1.0)
    pairs.append((lobe - 1, lobe))
    weight.append(0.05)
    num = 2 * lobe
    ang = np.linspace(0, 2 * np.pi, lobe, endpoint=False)
    ring = np.stack([np.cos(ang), np.sin(ang), np.zeros(lobe)], 1)
    centroid = np.concatenate([ring - [3, 0, 0], ring + [3, 0, 0]])
    return num, np.asarray(pairs), np.asarray(weight), centroid


def test_random_cuts_agree_on_the_neck_where_the_learned_values_say_nothing():
    num, pairs, weight, cen = _barbell()
    flat = np.full(len(pairs), 0.1)  # no learned evidence anywhere
    p = consensus_dissimilarity(num, pairs, weight, flat, np.full(num, 1 / num), cen,
                                ConsensusSettings())
    assert p.shape == (len(pairs),) and np.all((p >= 0) & (p <= 1))
    assert p[-1] > 0.9  # nearly every draw cuts the neck
    assert p[-1] == p.max() and p[:-1].mean() < 0.5


def test_the_consensus_is_deterministic_and_can_be_switched_off():
    num, pairs, weight, cen = _barbell()
    args = (num, pairs, weight, np.full(len(pairs), 0.1), np.full(num, 1 / num), cen)
    one = consensus_dissimilarity(*args, ConsensusSettings(samples=8))
    assert np.array_equal(one, consensus_dissimilarity(*args, ConsensusSettings(samples=8)))
    assert not consensus_dissimilarity(*args, ConsensusSettings(samples=0)).any()
    tiny = consensus_dissimilarity(2, np.array([[0, 1]]), np.ones(1), np.zeros(1),
                                   np.full(2, 0.5), np.zeros((2, 3)), ConsensusSettings())
    assert tiny.tolist() == [0.0]


def test_segment_all_without_a_scale_cuts_a_smooth_dumbbell_at_its_neck(real):
    """One smooth closed piece: no crease tells the lobes apart, the consensus does. The
    answer has parts (never the whole mesh) and no part straddles the neck."""
    v, f = dumbbell()
    real.set_mesh(v, f, n_points=4000, seed=0)
    assert real.mesh_parts().tree.one_piece
    res = real.segment_all()
    assert res.num_parts >= 2
    x = v[f].mean(axis=1)[:, 0]
    left = set(res.face_labels[x < -0.3].tolist())
    right = set(res.face_labels[x > 0.3].tolist())
    assert not left & right
    for lobe in (x < -0.5, x > 0.5):  # each lobe is mostly one part
        assert np.bincount(res.face_labels[lobe]).max() / lobe.sum() > 0.8


def test_a_low_poly_smooth_mesh_is_not_shattered(real):
    """An 80-face ellipsoid has only a few dozen superfaces: each random cut then has at
    most one part per ``superfaces_per_part`` of them, so Segment All without a scale
    gives a couple of parts, not one per superface."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=1)
    v = np.asarray(m.vertices).copy()
    v[:, 0] *= 2.0
    real.set_mesh(v, np.asarray(m.faces), n_points=2000, seed=0)
    assert real.mesh_parts().tree.one_piece
    assert 2 <= real.segment_all().num_parts <= 4


def _tube(length: int = 60, ring: int = 6):
    """A uniform tube: ``length`` rings of ``ring`` nodes, every edge the same weight."""
    pairs = []
    for i in range(length):
        for j in range(ring):
            n = i * ring + j
            pairs.append((n, i * ring + (j + 1) % ring))
            if i + 1 < length:
                pairs.append((n, n + ring))
    pairs = np.asarray(pairs)
    ang = np.linspace(0, 2 * np.pi, ring, endpoint=False)
    cen = np.array([(i, np.cos(a), np.sin(a)) for i in range(length) for a in ang], float)
    return length * ring, pairs, cen


def test_the_minima_rule_moves_random_cuts_into_a_valley():
    """On a uniform tube random cuts fall where the graph's spectrum puts them; with
    ``concave_scale`` the edges of a valley (fold > 0, a third of the way along) are the
    ones nearly every draw cuts."""
    num, pairs, cen = _tube()
    ring = 6
    x = cen[:, 0]
    valley = (np.minimum(x[pairs[:, 0]], x[pairs[:, 1]]) == 19) & (
        np.maximum(x[pairs[:, 0]], x[pairs[:, 1]]) == 20)
    fold = np.where(valley, 0.6, -0.05)
    args = (num, pairs, np.ones(len(pairs)), np.full(len(pairs), 0.1), np.full(num, 1 / num),
            cen)
    plain = consensus_dissimilarity(*args, ConsensusSettings(concave_scale=0.0), fold)
    on = ConsensusSettings(concave_scale=0.2)
    assert np.array_equal(plain, consensus_dissimilarity(*args, on))  # no folds: no rule
    rule = consensus_dissimilarity(*args, on, fold)
    assert rule[valley].min() > 0.9 > plain[valley].max()
    assert rule[valley].min() >= rule.max() - 1e-12
    assert valley.sum() == ring


def test_a_click_grows_over_a_lobe_and_stops_at_the_neck(real):
    """On a one-piece mesh a click's growth reads the tree's dissimilarity, consensus
    included: the neck's edges cost more than the learned values alone say, and a click
    at the end of one lobe with the lobe's share as the scale gives that lobe."""
    v, f = dumbbell()
    real.set_mesh(v, f, n_points=4000, seed=0)
    mp = real.mesh_parts()
    assert mp.tree.one_piece
    assert np.all(mp.edge_dissimilarity >= mp.dissimilarity)
    x = v[f].mean(axis=1)[:, 0]
    area = real.mesh_structure().face_area
    lobe = x < 0
    click = int(np.argmin(np.asarray(real.points)[:, 0]))  # the far end of the left lobe
    got = np.asarray(real.predict([(click, True)], scale=area[lobe].sum() / area.sum())
                     .face_mask)
    assert area[got & lobe].sum() / area[got | lobe].sum() > 0.85
