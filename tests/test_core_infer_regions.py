"""Mesh regions, label transfer to faces and island clean-up (core.mesh_regions)."""

from __future__ import annotations

import numpy as np
import trimesh
from core_infer_fake import boxes, unweld

from core.geometry import sample_surface
from core.mesh_regions import (
    MeshStructure,
    absorb_small_islands,
    face_vote,
    nearest_point_of_faces,
    relabel_contiguous,
    transfer_labels_to_faces,
)


def test_regions_are_welded_components():
    v, f, owner = boxes([(0, 0, 0), (3, 0, 0), (0, 3, 0)])
    v2, f2 = unweld(v, f)  # every triangle separate, like per-part OBJ exports
    ms = MeshStructure.build(v2, f2)
    assert ms.num_regions == 3
    # each box is exactly one region
    for b in range(3):
        assert len(np.unique(ms.face_region[owner == b])) == 1
    assert np.isclose(ms.region_area.sum(), ms.total_area)
    assert np.allclose(sorted(ms.region_area), [6.0, 6.0, 6.0])


def test_face_groups_split_regions():
    v, f, _ = boxes([(0, 0, 0)])
    groups = (np.arange(len(f)) < 6).astype(int)  # two materials on one box
    ms = MeshStructure.build(v, f, face_groups=groups)
    assert ms.num_regions == 2
    assert len(np.unique(ms.face_region[groups == 1])) == 1


def test_crease_split_on_box_gives_six_sides():
    v, f, _ = boxes([(0, 0, 0)], subdivide=1)
    ms = MeshStructure.build(v, f, crease_angle_deg=45.0)
    assert ms.num_regions == 6
    ms_flat = MeshStructure.build(v, f, crease_angle_deg=120.0)
    assert ms_flat.num_regions == 1


def test_face_vote_majority_and_unsampled():
    labels = np.array([0, 1, 1, 2, 5, -1])
    faces = np.array([0, 0, 0, 1, 3, 3])
    out = face_vote(labels, faces, 5)
    assert out.tolist() == [1, 2, -1, 5, -1]


def test_transfer_gives_each_face_of_a_part_the_part_label():
    v, f, owner = boxes([(0, 0, 0), (2.5, 0, 0)], subdivide=3)
    pts, pf = sample_surface(v, f, 500, seed=1)  # fewer points than faces: many unsampled
    assert len(np.unique(pf)) < len(f)
    point_labels = owner[pf] * 7 + 3
    near = nearest_point_of_faces(v, f, pts)
    out = transfer_labels_to_faces(point_labels, pf, near)
    assert (out == owner * 7 + 3).all()


def test_nearest_point_chunks_agree_with_one_shot():
    m = trimesh.creation.icosphere(subdivisions=4)
    pts, _ = sample_surface(m.vertices, m.faces, 300, seed=0)
    a = nearest_point_of_faces(m.vertices, m.faces, pts, chunk=97)
    b = nearest_point_of_faces(m.vertices, m.faces, pts, chunk=10**9)
    assert (a == b).all()


def test_label_transfer_huge_mesh_bounded_memory():
    """2M faces: the per-face pass is chunked, so extra memory stays far below a dense pass."""
    import tracemalloc

    n = 1000  # grid of n × n quads = 2M triangles
    xs = np.linspace(0, 1, n + 1)
    gx, gy = np.meshgrid(xs, xs, indexing="ij")
    v = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], 1)
    i = (np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]).ravel()
    f = np.concatenate([np.stack([i, i + n + 1, i + 1], 1), np.stack([i + 1, i + n + 1, i + n + 2], 1)])
    assert len(f) == 2_000_000
    rng = np.random.default_rng(0)
    pts = rng.random((5000, 3)) * [1, 1, 0]
    cell = np.minimum((pts[:, :2] * n).astype(np.int64), n - 1)
    pf = cell[:, 0] * n + cell[:, 1]  # lower triangle of the point's quad
    labels = (pts[:, 0] > 0.5).astype(np.int64)
    tracemalloc.start()
    near = nearest_point_of_faces(v, f, pts, chunk=65536)
    out = transfer_labels_to_faces(labels, pf, near)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    cx = v[f].mean(axis=1)[:, 0]
    far = np.abs(cx - 0.5) > 0.05
    assert (out[far] == (cx[far] > 0.5)).all()
    # outputs: int32 + int64 per face = 24 MB; chunk temporaries are a few MB
    assert peak < 80e6, peak


def _strip(n_faces_x: int = 20):
    """A flat strip of quads along x (2 triangles each), one region."""
    xs = np.arange(n_faces_x + 1, dtype=float)
    v = np.concatenate([np.stack([xs, np.zeros_like(xs), 0 * xs], 1),
                        np.stack([xs, np.ones_like(xs), 0 * xs], 1)])
    top = n_faces_x + 1
    i = np.arange(n_faces_x)
    f = np.concatenate([np.stack([i, i + 1, i + top], 1), np.stack([i + 1, i + top + 1, i + top], 1)])
    return v, f


def test_small_fragment_absorbed_by_longest_boundary_neighbour():
    v, f = _strip(20)
    ms = MeshStructure.build(v, f)
    cx = v[f].mean(axis=1)[:, 0]
    lab = np.where(cx < 10, 0, 1)
    lab[(cx > 4) & (cx < 5)] = 2  # a 1-quad fragment inside part 0
    out = absorb_small_islands(lab, ms, min_area=1.5)
    assert (out[(cx > 4) & (cx < 5)] == 0).all()
    assert (out[cx < 10] == 0).all() and (out[cx > 10] == 1).all()


def test_whole_small_piece_is_protected_but_fragment_is_not():
    v, f, owner = boxes([(0, 0, 0), (3, 0, 0)])
    v[np.unique(f[owner == 1])] *= [0.1, 0.1, 0.1]  # shrink box 1 (tiny separate piece)
    ms = MeshStructure.build(v, f)
    lab = owner.copy()
    out = absorb_small_islands(lab, ms, min_area=1.0, protect_regions=True)
    assert (out == owner).all()
    # a small fragment of box 0 is absorbed, the tiny separate box stays
    lab2 = owner.copy()
    lab2[0] = 5
    out2 = absorb_small_islands(lab2, ms, min_area=1.0, protect_regions=True)
    assert out2[0] == 0 and (out2[owner == 1] == 1).all()


def test_absorb_respects_group():
    v, f = _strip(20)
    ms = MeshStructure.build(v, f)
    cx = v[f].mean(axis=1)[:, 0]
    group = (cx > 10).astype(int)
    lab = np.where(cx < 9, 0, 1)
    frag = (cx > 9) & (cx < 10)
    lab[frag] = 2  # fragment in group 0, between label 0 (9 quads) and label 1 (10 quads)
    free = absorb_small_islands(lab, ms, min_area=3.0)
    assert (free[frag] == 1).all()  # equal boundaries: the larger neighbour wins
    out = absorb_small_islands(lab, ms, min_area=3.0, group=group)
    assert (out[frag] == 0).all()  # only a neighbour of the same group may absorb it


def test_relabel_contiguous_order_of_first_appearance():
    assert relabel_contiguous(np.array([7, 7, 3, 9, 3])).tolist() == [0, 0, 1, 2, 1]


def test_precomputed_face_areas_give_the_same_structure():
    from core.geometry import check_mesh_areas

    v, f, _ = boxes([(0, 0, 0), (3, 0, 0)], subdivide=1)
    _, _, area = check_mesh_areas(v, f)
    a, b = MeshStructure.build(v, f), MeshStructure.build(v, f, face_area=area)
    assert (a.face_region == b.face_region).all() and np.array_equal(a.region_area, b.region_area)
    assert np.array_equal(a.face_area, b.face_area)
