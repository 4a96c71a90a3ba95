"""Procedural families: every family builds a real hierarchy, deterministically."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import trimesh

from core.geometry import sample_surface
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


def _repeated_small_parts(root) -> int:
    """Size of the largest set of near-identical small leaves: same base name (digits
    stripped), surface area within ~10 %, each under 2 % of the object's surface."""
    leaves = root.leaves()
    areas = np.array([lf.mesh.area for lf in leaves])
    keys = Counter((lf.name.rstrip("0123456789_"), round(float(np.log(a)), 1))
                   for lf, a in zip(leaves, areas) if a < 0.02 * areas.sum())
    return max(keys.values(), default=0)


def test_small_repeated_parts_are_common():
    """Keys, buttons, knobs, hinges, feet, spokes...: many families carry sets of small
    near-identical parts, which the scale prompt must learn to pick out one by one."""
    with_sets = []
    for family in sorted(FAMILIES):
        counts = [_repeated_small_parts(make_object(family, seed)) for seed in range(3)]
        if np.median(counts) >= 4:
            with_sets.append(family)
    assert len(with_sets) >= 15, with_sets
    assert {"keyboard", "laptop", "remote", "microwave", "cabinet", "car"} <= set(with_sets)
    keys = [_repeated_small_parts(make_object("keyboard", seed)) for seed in range(3)]
    assert min(keys) >= 40, keys


def test_cabinet_doors_and_drawers_are_flush():
    """Door panels and drawer fronts close the carcass opening with hairline seams and sit
    on its front edge: no gap separates them from the body."""
    for seed in range(5):
        by_name: dict[str, list] = {}
        for lf in make_object("cabinet", seed, deform_strength=0).leaves():
            by_name.setdefault(lf.name, []).append(lf.mesh)
        left, right = by_name["side_left"][0], by_name["side_right"][0]
        top, bottom = by_name["top"][0], by_name["bottom"][0]
        opening = ((right.bounds[0, 0] - left.bounds[1, 0])
                   * (top.bounds[0, 2] - bottom.bounds[1, 2]))
        fronts = by_name.get("panel", []) + by_name.get("front", [])
        assert fronts
        covered = sum(float(np.prod(m.extents[[0, 2]])) for m in fronts)
        assert covered / opening > 0.97  # seams of a few millimetres only
        carcass_front = min(m.bounds[0, 1] for m in (left, right, top))
        for m in fronts:
            # the front's back face touches or enters the carcass edge (<= 2 mm)
            assert 0.0 <= m.bounds[1, 1] - carcass_front <= 0.002
            assert m.extents[1] < 0.03  # a thin panel, not a box in front of the cabinet


@pytest.mark.parametrize("family,shell_leaf", [("bucket", "wall"), ("pot", "vessel"),
                                                ("mug", "cup"), ("lamp", "shade"),
                                                ("toolbox", "tray")])
def test_vessels_are_thin_shells_with_an_inside(family, shell_leaf):
    """Vessels are thin closed walls with a real inner surface: points sampled on the wall
    land on the inside as well as the outside."""
    for seed in range(3):
        root = make_object(family, seed, deform_strength=0)
        flat = flatten(root)
        wall = [i for i, node in enumerate(flat.leaf_node) if flat.names[node] == shell_leaf]
        assert len(wall) == 1
        mesh = root.leaves()[wall[0]].mesh
        assert mesh.is_watertight
        assert 2 * mesh.volume / mesh.area < 0.012  # mean wall thickness under 12 mm
        pts, fi = sample_surface(flat.vertices, flat.faces, 4000, seed=seed)
        nrm = trimesh.Trimesh(flat.vertices, flat.faces, process=False).face_normals[fi]
        sel = flat.face_leaf[fi] == wall[0]
        assert sel.sum() > 100
        centre = mesh.bounds.mean(0)
        radial = pts[sel] - centre
        radial[:, 2] = 0
        facing_in = np.einsum("ij,ij->i", nrm[sel], radial) < 0
        horizontal = np.linalg.norm(nrm[sel][:, :2], axis=1) > 0.5
        assert (facing_in & horizontal).mean() > 0.2
