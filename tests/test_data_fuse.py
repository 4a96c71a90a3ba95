"""Fused variants: one closed surface, part labels carried over."""

from __future__ import annotations

import numpy as np
import trimesh

from training.data.asset_loaders import decimate
from training.data.fuse import FuseSettings, fuse_mesh
from training.data.parts import flatten, group, leaf
from training.data.procedural.primitives import box, cylinder


def test_fused_table_is_one_closed_piece_with_labels_kept():
    top = leaf("top", trimesh.Trimesh(*_vf(box([1.0, 0.6, 0.05])), process=False))
    legs = [leaf(f"leg{i}", _moved(cylinder(0.03, 0.5), [sx * 0.4, sy * 0.25, -0.25]))
            for i, (sx, sy) in enumerate([(-1, -1), (1, -1), (1, 1), (-1, 1)])]
    flat = flatten(group("table", top, group("legs", legs)))
    v, f, lab = fuse_mesh(flat.vertices, flat.faces, flat.face_leaf,
                          settings=FuseSettings(resolution=48))
    m = trimesh.Trimesh(v, f, process=False)
    # parts that touched are welded into one connected surface without open edges
    assert len(m.split(only_watertight=False)) == 1
    edges = np.sort(m.edges, axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert (counts >= 2).all()
    # every original part survives as a label, each leg on its own side of the table
    assert set(np.unique(lab)) == set(range(flat.n_leaves))
    centres = np.stack([v[f[lab == k]].reshape(-1, 3).mean(0) for k in range(1, 5)])
    assert (np.sign(centres[:, 0]) == [-1, 1, 1, -1]).all()
    # the surface stays where the object was (within a couple of voxels)
    assert np.allclose(m.bounds, trimesh.Trimesh(flat.vertices, flat.faces).bounds,
                       atol=3 * 1.0 / 48)


def test_decimate_keeps_the_surface():
    m = trimesh.creation.icosphere(5)
    v, f = decimate(m.vertices, m.faces, 3000)
    assert len(f) <= 3000
    assert abs(trimesh.Trimesh(v, f).area - m.area) / m.area < 0.02


def _vf(m):
    return m.vertices, m.faces


def _moved(m, pos):
    m = m.copy()
    m.apply_translation(pos)
    return m
