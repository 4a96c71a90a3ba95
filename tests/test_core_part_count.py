"""Segment All into a given number of parts (``segment_all(num_parts=k)``,
:mod:`core.part_count`): exact counts, nesting, the neck of a smooth one-piece mesh, clear
refusals."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from core_infer_fake import boxes

from core import Segmenter
from core.part_count import CountSettings, count_cut, spectral_embedding, ward_tree

THREE = [(0, 0, 0), (3, 0, 0), (6, 0, 0)]


@pytest.fixture(scope="module")
def real():
    return Segmenter.from_pretrained(num_threads=2)


def dumbbell() -> tuple[np.ndarray, np.ndarray]:
    """One smooth closed piece: two round lobes (x < 0 and x > 0) joined by a thin neck
    at x = 0."""
    m = trimesh.creation.icosphere(subdivisions=4)
    v = np.asarray(m.vertices).copy()
    v[:, 0] *= 2.5
    r = 1.0 - 0.8 * np.exp(-(v[:, 0] ** 2) / 0.15)  # radius profile: thin at x = 0
    v[:, 1:] *= r[:, None]
    return v, np.asarray(m.faces)


def _nested(fine: np.ndarray, coarse: np.ndarray) -> bool:
    pairs = np.unique(np.stack([fine, coarse], 1), axis=0)
    return len(np.unique(pairs[:, 0])) == len(pairs)


def test_exact_counts_nested_in_k(real):
    v, f, _ = boxes(THREE, subdivide=2)
    real.set_mesh(v, f, n_points=3000, seed=0)
    prev = None
    for k in range(1, 7):
        res = real.segment_all(num_parts=k)
        assert res.num_parts == k == len(np.unique(res.face_labels)) == len(res.scores)
        assert (res.face_labels >= 0).all() and res.scale is None
        assert (res.point_labels == res.face_labels[real.point_faces]).all()
        if prev is not None:
            assert _nested(res.face_labels, prev), f"{k} parts do not split the {k - 1}"
        prev = res.face_labels


def test_three_boxes_in_three_parts(real):
    """Asked for 3 parts, three separate boxes come out one part each."""
    v, f, owner = boxes(THREE, subdivide=2)
    real.set_mesh(v, f, n_points=3000, seed=0)
    lab = real.segment_all(num_parts=3).face_labels
    for b in range(3):
        assert len(np.unique(lab[owner == b])) == 1
    assert len(np.unique(lab)) == 3


def test_smooth_one_piece_split_at_its_neck(real):
    """A one-piece smooth mesh (the spectral tree) in 2 parts: the two lobes, cut near the
    neck."""
    v, f = dumbbell()
    real.set_mesh(v, f, n_points=4000, seed=0)
    mp = real.mesh_parts()
    assert mp.count_tree(real.settings.count) is not mp.tree  # the spectral tree
    lab = real.segment_all(num_parts=2).face_labels
    x = v[f].mean(axis=1)[:, 0]
    left, right = lab[x < -0.5], lab[x > 0.5]
    assert np.bincount(left).max() / len(left) > 0.95
    assert np.bincount(right).max() / len(right) > 0.95
    assert np.bincount(left).argmax() != np.bincount(right).argmax()


def test_assembled_mesh_reads_its_own_tree(real):
    v, f, _ = boxes(THREE, subdivide=2)
    real.set_mesh(v, f, n_points=3000, seed=0)
    mp = real.mesh_parts()
    assert mp.count_tree(CountSettings()) is mp.tree


def test_more_parts_than_superfaces_gives_every_superface(real):
    v, f, _ = boxes(THREE, subdivide=1)
    real.set_mesh(v, f, n_points=1000, seed=0)
    n_sf = real.mesh_parts().sf.num
    assert real.segment_all(num_parts=n_sf + 50).num_parts == n_sf


def test_point_cloud_counts(real):
    v, f, _ = boxes(THREE, subdivide=2)
    real.set_mesh(v, f, n_points=3000, seed=0)
    real.set_points(real.points)
    for k in (1, 3, 5):
        res = real.segment_all(num_parts=k)
        assert res.num_parts == k == len(np.unique(res.point_labels))


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "3"])
def test_bad_counts_refused(real, bad):
    v, f, _ = boxes(THREE, subdivide=1)
    real.set_mesh(v, f, n_points=1000, seed=0)
    with pytest.raises(ValueError, match="num_parts"):
        real.segment_all(num_parts=bad)


def test_scale_and_count_together_refused(real):
    v, f, _ = boxes(THREE, subdivide=1)
    real.set_mesh(v, f, n_points=1000, seed=0)
    with pytest.raises(ValueError, match="not both"):
        real.segment_all(scale=0.2, num_parts=3)


def test_ward_tree_count_cut_on_two_clusters():
    """A chain of six nodes whose embedding forms two groups: 2 parts = the groups."""
    emb = np.array([[0, 0], [0.1, 0], [0.2, 0], [5, 0], [5.1, 0], [5.2, 0]], float)
    pairs = np.array([[i, i + 1] for i in range(5)])
    t = ward_tree(emb, np.full(6, 1 / 6), pairs, np.zeros((6, 3)))
    lab = t.labels_of_cut(count_cut(t, 2))
    assert len(np.unique(lab[:3])) == 1 and len(np.unique(lab[3:])) == 1
    assert lab[0] != lab[3]
    assert len(count_cut(t, 6)) == 6 and len(count_cut(t, 1)) == 1


def test_spectral_embedding_separates_a_weak_edge():
    """Two triangles joined by one highly dissimilar edge: the embedding puts them apart."""
    pairs = np.array([[0, 1], [1, 2], [0, 2], [3, 4], [4, 5], [3, 5], [2, 3]])
    diss = np.array([0.0] * 6 + [0.9])
    emb = spectral_embedding(6, pairs, np.ones(7), diss, CountSettings(dims=2, sigma=0.2))
    assert emb.shape == (6, 2)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0)
    within = np.linalg.norm(emb[0] - emb[1]) + np.linalg.norm(emb[3] - emb[4])
    assert np.linalg.norm(emb[0] - emb[4]) > 5 * within


def test_smallest_part_size_is_honoured(real):
    """With a smallest part size, the k parts are each at least that large: a tiny
    separate piece is not one of them but joins a neighbour."""
    from core import SegmentAllSettings

    v, f, owner = boxes(THREE + [(1.5, 0.0, 0.0)], subdivide=2)
    tiny = owner == 3
    v = v.copy()
    # a tiny box far from the others: joined last, so the plain count makes it a part
    v[np.unique(f[tiny])] = (v[np.unique(f[tiny])] - (1.5, 0, 0)) * 0.05 + (3.0, 6.0, 0)
    real.set_mesh(v, f, n_points=3000, seed=0)
    plain = real.segment_all(num_parts=3).face_labels
    assert len(np.unique(plain)) == 3
    assert not set(plain[tiny]) & set(plain[~tiny])  # the tiny box alone
    res = real.segment_all(num_parts=3, settings=SegmentAllSettings(min_mesh_part_fraction=0.05))
    assert res.num_parts == 3
    area = real.mesh_structure().face_area
    shares = np.bincount(res.face_labels, weights=area) / area.sum()
    assert shares.min() >= 0.05
    for b in range(3):  # each big box is one part of its own
        assert len(np.unique(res.face_labels[owner == b])) == 1
    assert len({int(res.face_labels[owner == b][0]) for b in range(3)}) == 3


def test_point_cloud_count_more_than_leaves(real):
    v, f, _ = boxes(THREE, subdivide=1)
    real.set_points(v[np.unique(f)] if len(v) > 64 else np.repeat(v, 20, axis=0)
                    + np.random.default_rng(0).normal(0, 0.01, (len(v) * 20, 3)))
    res = real.segment_all(num_parts=100000)
    assert 1 <= res.num_parts <= len(real.points)


def test_unreachable_count_gives_the_most_parts_that_large(real):
    """Five parts of at least half the cloud cannot exist: the answer is the cut with the
    most parts that large (one), never a scatter of small ones."""
    from core import SegmentAllSettings

    real.set_points(np.random.default_rng(0).normal(size=(400, 3)))
    res = real.segment_all(num_parts=5, settings=SegmentAllSettings(min_part_fraction=0.5))
    assert res.num_parts == 1
    res = real.segment_all(num_parts=5, settings=SegmentAllSettings(min_part_fraction=0.1))
    assert 1 <= res.num_parts <= 5
    assert np.bincount(res.point_labels).min() >= 0.1 * 400


def test_count_with_a_size_no_cut_can_meet(real):
    """Three equal boxes asked for 3 parts of at least 30 % each: one box each; of at least
    40 %: no two parts can be that large, so the whole object is one part (never more
    parts than asked, never a part below the size)."""
    from core import SegmentAllSettings

    v, f, owner = boxes(THREE, subdivide=2)
    real.set_mesh(v, f, n_points=3000, seed=0)
    res = real.segment_all(num_parts=3, settings=SegmentAllSettings(min_mesh_part_fraction=0.3))
    assert res.num_parts == 3
    assert all(len(np.unique(res.face_labels[owner == b])) == 1 for b in range(3))
    res = real.segment_all(num_parts=3, settings=SegmentAllSettings(min_mesh_part_fraction=0.4))
    assert res.num_parts == 1
    res = real.segment_all(num_parts=2, settings=SegmentAllSettings(min_mesh_part_fraction=0.3))
    assert res.num_parts == 2
    area = real.mesh_structure().face_area
    assert (np.bincount(res.face_labels, weights=area) / area.sum()).min() >= 0.3
