"""Convexity of creases on messy meshes: double-sided copies merged, windings propagated,
patches turned outwards (core/orientation.py through core.creases.edge_geometry)."""

from __future__ import annotations

import numpy as np
import trimesh

from core.creases import edge_geometry
from core.geometry import normalization_of, sample_surface
from core.mesh_regions import MeshStructure
from core.orientation import parity_forest
from core.superfaces import SuperfaceSettings, build_superfaces


def _l_solid():
    """An L-shaped solid (two boxes unioned): one concave crease, the rest convex."""
    a = trimesh.creation.box(extents=(2, 1, 1))
    b = trimesh.creation.box(extents=(1, 1, 1))
    b.apply_translation((-0.5, 0, 1))
    a.apply_translation((0, 0, 0))
    m = trimesh.boolean.union([a, b], engine="manifold")
    m = m.subdivide()
    return np.asarray(m.vertices), np.asarray(m.faces)


def _messy(v, f, seed=0):
    """Every face flipped at random and stored twice, once per winding (double-sided)."""
    rng = np.random.default_rng(seed)
    flip = rng.random(len(f)) < 0.5
    f1 = np.where(flip[:, None], f[:, ::-1], f)
    both = np.concatenate([f1, f1[:, ::-1]])
    return v, both[rng.permutation(len(both))]


def _graph(v, f):
    ms = MeshStructure.build(v, f)
    pts, pf = sample_surface(v, f, 3000, seed=0)
    return build_superfaces(ms, pf, normalization_of(pts).apply(pts),
                            settings=SuperfaceSettings(max_share=1.0))


def test_a_double_sided_randomly_flipped_solid_reads_like_the_clean_one():
    v, f = _l_solid()
    clean = _graph(v, f)
    assert (clean.concave > 0.99).sum() == 1  # the inner crease of the L
    assert ((clean.convex > 0.99) | (clean.concave > 0.99)).all()
    messy = _graph(*_messy(v, f))
    assert messy.num == clean.num and len(messy.pairs) == len(clean.pairs)
    assert (messy.concave > 0.99).sum() == 1
    assert ((messy.convex > 0.99) | (messy.concave > 0.99)).all()
    assert (messy.nonmanifold == 0).all()


def test_an_inward_oriented_solid_is_turned_outwards():
    v, f = _l_solid()
    eg, ieg = edge_geometry(MeshStructure.build(v, f)), edge_geometry(
        MeshStructure.build(v, f[:, ::-1]))
    np.testing.assert_allclose(ieg.signed, eg.signed, atol=1e-5)
    assert (eg.signed > np.radians(80)).any() and (eg.signed < -np.radians(80)).any()


def test_superfaces_of_a_messy_box_see_convex_edges():
    b = trimesh.creation.box(extents=(1, 1, 1)).subdivide().subdivide()
    sf = _graph(*_messy(np.asarray(b.vertices), np.asarray(b.faces), seed=3))
    assert sf.num == 6
    assert (sf.convex > 0.99).all() and (sf.concave == 0).all()
    assert (sf.nonmanifold == 0).all() and (sf.consistent > 0.99).all()


def test_parity_forest_carries_the_parity_along_a_chain():
    # 0 -1- 1 -0- 2 -1- 3, and 4 alone
    root, par = parity_forest(5, np.array([1, 2, 2]), np.array([0, 1, 3]),
                              np.array([True, False, True]))
    assert root.tolist() == [0, 0, 0, 0, 4]
    assert par.tolist() == [False, True, True, False, False]
