"""Procedural families: every family builds a real hierarchy, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from training.data.build import sample_labeled
from training.data.parts import flatten, group, leaf, levels_nest, nest_levels, tree_levels
from training.data.procedural import FAMILIES, make_object
from training.data.procedural.primitives import box


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_builds_nested_levels_deterministically(family):
    n_levels = []
    for seed in range(3):
        a = flatten(make_object(family, seed))
        b = flatten(make_object(family, seed))
        np.testing.assert_array_equal(a.vertices, b.vertices)
        np.testing.assert_array_equal(a.face_leaf, b.face_leaf)
        levels = tree_levels(a)
        assert levels_nest(levels)
        n_levels.append(levels.shape[0])
        assert np.isfinite(a.vertices).all()
        assert a.n_leaves >= 3
        pts, nrm, lab = sample_labeled(a.vertices, a.faces, a.face_leaf, levels, 2000, seed)
        assert levels_nest(lab)
        # every leaf with real area is seen, coarser levels have fewer parts
        parts = [len(np.unique(x)) for x in lab]
        assert parts == sorted(parts, reverse=True) and parts[-1] >= 2
    assert max(n_levels) >= 2, f"{family} never produced two hierarchy levels"
    other = flatten(make_object(family, 99))
    assert other.vertices.shape != a.vertices.shape or not np.allclose(other.vertices, a.vertices)


def test_tree_levels_cut_uneven_tree():
    cube = box([1, 1, 1])
    root = group("obj",
                 group("a", group("a1", leaf("x", cube), leaf("y", cube)), leaf("z", cube)),
                 leaf("w", cube))
    levels = tree_levels(flatten(root))
    # leaves x y z w; depth-2 cut: {x},{y},{z},{w}; depth-1 cut: {x,y,z},{w}
    assert levels.shape == (3, 4)
    assert len(np.unique(levels[0])) == 4
    assert len(np.unique(levels[1])) == 3 and levels[1][0] == levels[1][1]
    assert len(np.unique(levels[2])) == 2 and levels[2][0] == levels[2][2] != levels[2][3]
    assert levels_nest(levels)


def test_nest_levels_splits_straddling_parts():
    fine = np.array([0, 0, 1, 1])
    coarse = np.array([0, 1, 1, 1])  # fine part 0 straddles coarse parts 0 and 1
    assert not levels_nest(np.stack([fine, coarse]))
    fixed = nest_levels(np.stack([fine, coarse]))
    assert levels_nest(fixed)
    assert len(np.unique(fixed[0])) == 3
