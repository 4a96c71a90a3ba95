"""Metrics and the prompt selector on tiny hand-made cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidPromptError
from training.devset import PartTree, _regions_and_levels
from training.metrics import best_iou_per_region, iou, iou_by_scale, iou_matrix
from training.selectors import interior_point


def _three_part_object():
    """12 points: leaves A (6 points), B (4), C (2); tree root -> {AB -> {A, B}, C}."""
    leaf_of_point = np.array([0] * 6 + [1] * 4 + [2] * 2)
    tree = PartTree(
        parents=np.array([-1, 0, 1, 1, 0]),
        leaves=[np.array([0, 1, 2]), np.array([0, 1]), np.array([0]), np.array([1]),
                np.array([2])],
        names=["root", "AB", "A", "B", "C"],
    )
    return leaf_of_point, tree


def test_iou_of_masks():
    a = np.array([1, 1, 0, 0], bool)
    b = np.array([1, 0, 1, 0], bool)
    assert iou(a, b) == pytest.approx(100 / 3)
    assert iou(a, a) == 100.0
    with pytest.raises(ValueError):
        iou(np.zeros(3, bool), np.zeros(3, bool))


def test_regions_and_levels_of_a_tree():
    leaf_of_point, tree = _three_part_object()
    masks, depth, is_leaf, names, levels = _regions_and_levels(tree, leaf_of_point)
    assert names == ["AB", "C", "A", "B"]
    assert depth.tolist() == [1, 1, 2, 2]
    assert is_leaf.tolist() == [False, True, True, True]
    assert masks.sum(axis=1).tolist() == [10, 2, 6, 4]
    # level 1 = {AB, C}; level 2 = {A, B, C} (C is a leaf at depth 1, kept at level 2)
    assert levels[1].tolist() == [0, 0, 1]
    assert levels[2].tolist() == [2, 3, 1]


def test_perfect_prediction_scores_100():
    leaf_of_point, tree = _three_part_object()
    masks, *_ = _regions_and_levels(tree, leaf_of_point)
    best = best_iou_per_region(masks, leaf_of_point)  # leaves predicted exactly
    # leaves are perfect; AB (10 points) best matches A (6 points): 60
    assert best.tolist() == [60.0, 100.0, 100.0, 100.0]
    coarse = np.array([0] * 10 + [1] * 2)
    assert best_iou_per_region(masks, [leaf_of_point, coarse]).tolist() == [100.0] * 4


def test_single_all_covering_part_scores_the_region_fraction():
    leaf_of_point, tree = _three_part_object()
    masks, _, is_leaf, _, _ = _regions_and_levels(tree, leaf_of_point)
    best = best_iou_per_region(masks, np.zeros(12, np.int64))
    # IoU of a region R with the whole object = |R| / 12
    assert best.tolist() == pytest.approx([100 * 10 / 12, 100 * 2 / 12, 100 * 6 / 12,
                                           100 * 4 / 12])
    leaf_miou = best[is_leaf].mean()
    assert leaf_miou == pytest.approx(100 * (2 + 6 + 4) / 12 / 3)


def test_iou_matrix_ignores_unlabelled_points_and_sparse_ids():
    masks = np.array([[1, 1, 0, 0]], bool)
    m = iou_matrix(masks, np.array([-1, 5, 5, -1]))
    assert m.shape == (1, 6)
    assert m[0, 5] == pytest.approx(100 / 3)  # inter 1, union |R|=2 + |P|=2 - 1


def test_iou_by_scale_bins():
    bins = iou_by_scale([0.0, 0.05, 0.5, 1.0], [10, 20, 30, 40], edges=(0.0, 0.1, 1.0))
    assert [b["count"] for b in bins] == [2, 2]
    assert [b["mean_iou"] for b in bins] == [15.0, 35.0]


def _cube_grid(n: int, offset: float = 0.0) -> np.ndarray:
    g = np.arange(n, dtype=np.float64)
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    return np.stack([x.ravel() + offset, y.ravel(), z.ravel()], axis=1)


def test_interior_point_is_the_centre_of_a_cube_part():
    part = _cube_grid(5)  # grid 0..4, centre (2, 2, 2)
    other = _cube_grid(5, offset=5.0)  # the neighbouring part, touching at x = 4 | 5
    pts = np.concatenate([other, part])  # part not first, so the index is not trivial
    in_part = np.r_[np.zeros(len(other), bool), np.ones(len(part), bool)]
    idx = interior_point(pts, in_part)
    assert pts[idx].tolist() == [2.0, 2.0, 2.0]


def test_interior_point_rejects_an_empty_part():
    with pytest.raises(InvalidPromptError):
        interior_point(np.zeros((4, 3)), np.zeros(4, bool))


def test_interior_scores_follow_the_formula():
    """Part x = 0..4 on a line, the other part at x = 6 (hand-computed scores)."""
    from training.selectors import interior_scores

    pts = np.array([[x, 0.0, 0.0] for x in (0, 1, 2, 3, 4, 6)])
    in_part = np.array([True] * 5 + [False])
    # d_centre = 2,1,0,1,2 -> n = 1,.5,0,.5,1;  d_other = 6,5,4,3,2 -> n = 1,.75,.5,.25,0
    expected = 0.5 * (1 - np.array([1, 0.5, 0, 0.5, 1])) + 0.5 * np.array([1, .75, .5, .25, 0])
    assert interior_scores(pts, in_part) == pytest.approx(expected)
    assert interior_point(pts, in_part) == 2


def test_mesh_protocol_welds_at_1e5_of_the_diagonal():
    """Two quads cut apart like the annotators' files: one seam within the tolerance (welded
    into one piece), one gap 100x larger (kept apart)."""
    from training.baselines import cc_labels
    from training.devset import WELD_REL_TOL, DevObject, make_sample

    def quad(x0, x1):
        return [[x0, 0, 0], [x1, 0, 0], [x1, 1, 0], [x0, 1, 0]]

    diag = np.sqrt(3.0**2 + 1.0)  # bounding box 3 x 1 x 0
    seam = 0.5 * WELD_REL_TOL * diag  # inside the tolerance
    gap = 100 * WELD_REL_TOL * diag
    v = np.array(quad(0, 1) + quad(1 + seam, 2) + quad(2 + gap, 3), np.float64)
    f = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7], [8, 9, 10], [8, 10, 11]])
    tree = PartTree(np.array([-1, 0, 0, 0]), [np.arange(3), np.array([0]), np.array([1]),
                    np.array([2])], ["root", "a", "b", "c"])
    obj = DevObject("toy", "toy", tree, vertices=v, faces=f, face_leaf=np.repeat([0, 1, 2], 2))
    s = make_sample(obj, n_points=600, seed=0)
    comp = cc_labels(s.faces_welded, len(v), s.point_faces)
    leaf = obj.face_leaf[s.point_faces]
    # leaves 0 and 1 are one component after welding, leaf 2 is its own
    assert len(np.unique(comp[leaf <= 1])) == 1
    assert len(np.unique(comp)) == 2
    assert np.array_equal(obj.faces, f)  # the object itself is not modified
