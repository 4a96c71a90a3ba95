"""Label bookkeeping between the model's triangles/points and Blender polygons/vertices."""

from __future__ import annotations

import numpy as np

from s2am3d_blender import labels


def test_polygon_labels_majority_and_unlabelled_only_when_all_are():
    tri_poly = np.array([0, 0, 0, 1, 1, 2])
    tri_labels = np.array([3, 3, 1, -1, 2, -1])
    assert labels.polygon_labels(tri_labels, tri_poly, 3).tolist() == [3, 2, -1]


def test_part_vertices_of_masked_triangles():
    tris = np.array([[0, 1, 2], [2, 3, 0], [4, 5, 6]])
    assert labels.part_vertices(tris, [True, False, True]).tolist() == [0, 1, 2, 4, 5, 6]


def test_nearest_labels_carry_point_labels_to_vertices():
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 10])
    lab = np.repeat([0, 1], 50)
    q = np.concatenate([rng.normal(size=(20, 3)) * 0.5, rng.normal(size=(20, 3)) * 0.5 + 10])
    assert labels.nearest_labels(q, pts, lab, chunk=7).tolist() == [0] * 20 + [1] * 20


def test_mesh_key_changes_with_geometry_only():
    v = np.arange(12, dtype=float).reshape(4, 3)
    t = np.array([[0, 1, 2], [0, 2, 3]])
    k = labels.mesh_key(v, t)
    assert k == labels.mesh_key(v.copy(), t.copy())
    v2 = v.copy()
    v2[0, 0] += 1e-3
    assert labels.mesh_key(v2, t) != k
    assert labels.mesh_key(v, t[::-1]) != k


def test_part_colors_are_distinct():
    c = labels.part_colors(12)
    assert c.shape == (12, 4)
    d = np.linalg.norm(c[:, None, :3] - c[None, :, :3], axis=-1) + np.eye(12)
    assert d.min() > 0.05


def test_polygon_labels_agree_with_brute_force_on_many_labels():
    rng = np.random.default_rng(1)
    tri_poly = np.sort(rng.integers(0, 300, 2000))
    tri_labels = rng.integers(-1, 40, 2000)
    got = labels.polygon_labels(tri_labels, tri_poly, 310)
    for p in range(310):
        mine = tri_labels[tri_poly == p]
        if len(mine) == 0 or (mine < 0).all():
            assert got[p] == -1
            continue
        vals, cnt = np.unique(mine[mine >= 0], return_counts=True)
        assert got[p] == vals[cnt == cnt.max()].min()
