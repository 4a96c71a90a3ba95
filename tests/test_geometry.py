"""Geometry helpers every other module builds on: sampling, welding, components."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.geometry import (
    check_mesh,
    face_adjacency,
    face_components,
    farthest_point_sampling,
    normalize_points,
    sample_surface,
    weld_vertices,
)


def _two_squares(gap: float = 0.0):
    """Two unit squares side by side, modelled as separate pieces (no shared vertices)."""
    sq = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    v = np.concatenate([sq, sq + [1 + gap, 0, 0]])
    f = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    return v, f


def test_normalize_fits_unit_box_and_keeps_aspect():
    xyz = np.array([[0, 0, 0], [4, 2, 1], [2, 1, 0.5]], float)
    n = normalize_points(xyz)
    assert np.isclose(n[:, 0].min(), -1) and np.isclose(n[:, 0].max(), 1)
    assert np.isclose(n[:, 1].max() - n[:, 1].min(), 1.0)  # half of the x extent


def test_sampling_is_area_weighted_and_seeded():
    v, f = _two_squares()
    v[4:, 0] = v[4:, 0] * 3 - 2  # second square 3x wider: [1, 4]
    p, fi = sample_surface(v, f, 20000, seed=3)
    share_right = np.isin(fi, [2, 3]).mean()
    assert abs(share_right - 0.75) < 0.02
    p2, _ = sample_surface(v, f, 20000, seed=3)
    assert np.array_equal(p, p2)
    # every point lies on its own triangle's plane z=0 and inside its square
    assert np.allclose(p[:, 2], 0)


def test_weld_joins_coincident_pieces_only():
    v, f = _two_squares(gap=0.0)
    assert len(np.unique(face_components(f, len(v)))) == 2
    fw, _ = weld_vertices(v, f)
    assert len(np.unique(face_components(fw, len(v)))) == 1
    v2, f2 = _two_squares(gap=0.1)
    fw2, _ = weld_vertices(v2, f2)
    assert len(np.unique(face_components(fw2, len(v2)))) == 2


def test_face_adjacency_shares_edges():
    v, f = _two_squares()
    adj = face_adjacency(f)
    assert adj.tolist() == [[0, 1], [2, 3]]


def test_fps_spreads_points():
    xyz = np.concatenate([np.zeros((100, 3)), np.ones((1, 3))])
    idx = farthest_point_sampling(xyz, 2, seed=0)
    assert 100 in idx.tolist()


@pytest.mark.parametrize(
    "verts,faces,msg",
    [
        (np.zeros((0, 3)), np.zeros((0, 3), int), "empty"),
        (np.array([[0, 0, 0], [np.nan, 0, 0], [1, 1, 0]]), np.array([[0, 1, 2]]), "non-finite"),
        (np.eye(3), np.array([[0, 1, 5]]), "out of range"),
        (np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], float), np.array([[0, 1, 2]]), "zero area"),
        (np.eye(3), np.zeros((0, 3), int), "no faces"),
    ],
)
def test_bad_meshes_are_refused_with_a_reason(verts, faces, msg):
    with pytest.raises(InvalidInputError, match=msg):
        check_mesh(verts, faces)
